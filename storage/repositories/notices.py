"""Residents' notices owed, claimed and sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import (
    NoticeRow,
)
from storage.repositories._shared import _take_claims


class NoticeRepository:
    """The outbox of notices to residents: added with a staff action, claimed and sent after it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, complaint_id: int, event: str, *, comment: str | None = None, original: int | None = None
    ) -> NoticeRow:
        """Owe a resident a notice; it is sent once the caller's unit of work commits."""
        row = NoticeRow(
            complaint_id=complaint_id,
            event=event,
            comment=comment,
            original=original,
            status="pending",
            attempts=0,
            created_at=utcnow(),
        )
        self._session.add(row)
        return row

    async def claim(
        self, holder: str, *, limit: int, lease: timedelta, max_attempts: int
    ) -> Sequence[NoticeRow]:
        """Claim the oldest pending notices that are due for `holder` until the lease ends."""
        now = utcnow()
        claimable = (
            NoticeRow.status == "pending",
            or_(NoticeRow.claimed_until.is_(None), NoticeRow.claimed_until <= now),
        )
        candidates = (
            select(NoticeRow.id)
            .where(*claimable, NoticeRow.attempts < max_attempts)
            .order_by(NoticeRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self._session.scalars(candidates)).all())
        return await _take_claims(self._session, NoticeRow, ids, claimable, holder, now + lease)

    async def release(self, notice_ids: Sequence[int], holder: str) -> None:
        """Give back claims a stopping instance will not finish, so the next one sends them at once."""
        await self._session.execute(
            update(NoticeRow)
            .where(NoticeRow.id.in_(notice_ids), NoticeRow.claimed_by == holder)
            .values(claimed_by=None, claimed_until=None)
        )

    async def done(self, notice_id: int) -> None:
        """The notice went out (or has no one to go to): nothing more is owed."""
        await self._session.execute(delete(NoticeRow).where(NoticeRow.id == notice_id))

    async def failed(self, notice_id: int, error: str, *, retry_in: timedelta, max_attempts: int) -> None:
        """Count a failed attempt and try again after `retry_in`; park it after `max_attempts`."""
        row = await self._session.get(NoticeRow, notice_id, populate_existing=True)
        if row is None:
            return
        row.attempts += 1
        row.error = error[:2000]
        row.claimed_by = None
        row.claimed_until = utcnow() + retry_in  # not before then
        if row.attempts >= max_attempts:
            row.status = "failed"

    async def counts(self) -> dict[str, int]:
        """Number of notices per status."""
        rows = await self._session.execute(select(NoticeRow.status, func.count()).group_by(NoticeRow.status))
        return {status: int(count) for status, count in rows.tuples()}
