"""Scheduled jobs' runs and the settings the bot keeps."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import (
    JobRunRow,
    SettingRow,
)
from storage.repositories._shared import _insert_ignoring_conflicts


class JobRunRepository:
    """Claims of scheduled job slots, so each slot runs once however many instances run."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, job: str, slot: str, owner: str) -> bool:
        """True for the one caller that gets to run `job` for `slot`."""
        statement = _insert_ignoring_conflicts(self._session, JobRunRow, ["job", "slot"]).returning(
            JobRunRow.job
        )
        result = await self._session.execute(
            statement, [{"job": job, "slot": slot, "owner": owner, "started_at": utcnow()}]
        )
        return result.first() is not None

    async def finish(self, job: str, slot: str) -> None:
        """Record that a claimed slot ran to the end."""
        await self._session.execute(
            update(JobRunRow).where(JobRunRow.job == job, JobRunRow.slot == slot).values(finished_at=utcnow())
        )


class SettingRepository:
    """Values the bot generates once and every instance shares, such as the webhook secret."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, key: str) -> str | None:
        """The stored value, if any."""
        row = await self._session.get(SettingRow, key)
        return None if row is None else row.value

    async def get_or_create(self, key: str, value: str) -> str:
        """The stored value; when there is none, store `value` — whichever instance stores first wins."""
        statement = _insert_ignoring_conflicts(self._session, SettingRow, ["key"])
        await self._session.execute(statement, [{"key": key, "value": value, "created_at": utcnow()}])
        stored = await self._session.get(SettingRow, key, populate_existing=True)
        assert stored is not None
        return stored.value
