"""Complaints and their audit log."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import lifecycle
from bot.core.domain import ComplaintStatus
from bot.core.lifecycle import ON_DESK, UNRESOLVED, CardState, statuses
from storage.base import utcnow
from storage.models import (
    ComplaintEventRow,
    ComplaintRow,
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """The columns the duplicate check compares of a possible original (no ORM object: a run of new
    complaints reads dozens of these each)."""

    id: int
    text: str
    district: str | None
    duplicate_of_id: int | None
    created_at: datetime


class ComplaintRepository:
    """Complaints and their audit log."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, complaint: ComplaintRow, *, actor: str = "system", actor_user_id: int | None = None
    ) -> ComplaintRow:
        """Store a new complaint and its `created` event."""
        await self.add_many([complaint], actor=actor, actor_user_id=actor_user_id)
        return complaint

    async def add_many(
        self, complaints: Sequence[ComplaintRow], *, actor: str = "system", actor_user_id: int | None = None
    ) -> None:
        """Store new complaints in one flush (a batched insert) and a `created` event for each."""
        if not complaints:
            return
        now = utcnow()
        for complaint in complaints:
            complaint.created_at = complaint.created_at or now
            lifecycle.start(complaint, now)
        self._session.add_all(complaints)
        await self._session.flush()
        self._session.add_all(
            [
                ComplaintEventRow(
                    complaint_id=complaint.id,
                    at=now,
                    actor=actor,
                    actor_user_id=actor_user_id,
                    action="created",
                    from_status=None,
                    to_status=complaint.status,
                    details={"category": complaint.category, "department": complaint.department_id},
                )
                for complaint in complaints
            ]
        )

    async def get(self, complaint_id: int) -> ComplaintRow | None:
        """One complaint by its number."""
        return await self._session.get(ComplaintRow, complaint_id)

    async def by_source(self, chat_id: int, message_id: int) -> ComplaintRow | None:
        """The complaint made from this message, if any (processing is idempotent on it)."""
        query = select(ComplaintRow).where(
            ComplaintRow.chat_id == chat_id, ComplaintRow.message_id == message_id
        )
        row: ComplaintRow | None = await self._session.scalar(query)
        return row

    async def by_sources(self, sources: Collection[tuple[int, int]]) -> dict[tuple[int, int], ComplaintRow]:
        """The complaints made from these (chat id, message id) messages, in one query, by message."""
        if not sources:
            return {}
        query = select(ComplaintRow).where(
            tuple_(ComplaintRow.chat_id, ComplaintRow.message_id).in_(list(sources))
        )
        return {(row.chat_id, row.message_id): row for row in (await self._session.scalars(query)).all()}

    async def get_many(self, complaint_ids: Collection[int]) -> list[ComplaintRow]:
        """Complaints by number, in one query (the ones that exist, in number order)."""
        if not complaint_ids:
            return []
        query = select(ComplaintRow).where(ComplaintRow.id.in_(list(complaint_ids))).order_by(ComplaintRow.id)
        return list((await self._session.scalars(query)).all())

    async def change_status(
        self,
        complaint: ComplaintRow,
        target: ComplaintStatus,
        *,
        actor: str,
        actor_user_id: int | None = None,
        action: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Move a complaint to `target` as `lifecycle.move` allows, and log who did it."""
        moved = lifecycle.move(complaint, target, utcnow())
        await self.log(
            complaint,
            action or target.value,
            actor=actor,
            actor_user_id=actor_user_id,
            from_status=moved.before.value,
            to_status=moved.after.value,
            details=details,
        )

    async def log(
        self,
        complaint: ComplaintRow,
        action: str,
        *,
        actor: str,
        actor_user_id: int | None = None,
        from_status: str | None = None,
        to_status: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an event to the complaint's audit log."""
        self._session.add(
            ComplaintEventRow(
                complaint_id=complaint.id,
                at=utcnow(),
                actor=actor,
                actor_user_id=actor_user_id,
                action=action,
                from_status=from_status,
                to_status=to_status,
                details=details or {},
            )
        )

    async def events(self, complaint_id: int) -> Sequence[ComplaintEventRow]:
        """The audit log of one complaint, oldest first."""
        query = (
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(ComplaintEventRow.id)
        )
        return (await self._session.scalars(query)).all()

    async def for_resident(self, resident_id: int, *, limit: int = 20) -> Sequence[ComplaintRow]:
        """A resident's complaints, newest first."""
        query: Select[tuple[ComplaintRow]] = (
            select(ComplaintRow)
            .where(ComplaintRow.resident_id == resident_id)
            .order_by(ComplaintRow.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def by_status(
        self, status: ComplaintStatus, *, department_id: str | None = None, limit: int = 100
    ) -> Sequence[ComplaintRow]:
        """Complaints in one status, oldest first, optionally for one department."""
        query = select(ComplaintRow).where(ComplaintRow.status == status.value)
        if department_id is not None:
            query = query.where(ComplaintRow.department_id == department_id)
        return (await self._session.scalars(query.order_by(ComplaintRow.id).limit(limit))).all()

    async def opening(self, *, limit: int = 1000) -> Sequence[ComplaintRow]:
        """Complaints whose own card staff asked for from a combined message and that have none yet."""
        query = select(ComplaintRow).where(ComplaintRow.card_state == CardState.OPENING.value)
        return (await self._session.scalars(query.order_by(ComplaintRow.id).limit(limit))).all()

    async def in_batch(self, batch: str) -> Sequence[ComplaintRow]:
        """Complaints still marked as being sent in the combined message `batch` (a crash left them)."""
        query = select(ComplaintRow).where(
            ComplaintRow.card_state == CardState.SENDING.value, ComplaintRow.card_batch == batch
        )
        return (await self._session.scalars(query.order_by(ComplaintRow.id))).all()

    async def open_in_department(
        self, department_id: str, *, exclude: int, limit: int = 6
    ) -> Sequence[ComplaintRow]:
        """Newest open complaints of a department (candidates for 'duplicate of')."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.department_id == department_id,
                ComplaintRow.id != exclude,
                ComplaintRow.status.in_(statuses(ON_DESK)),
            )
            .order_by(ComplaintRow.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def duplicates_of(self, complaint_id: int) -> Sequence[ComplaintRow]:
        """Complaints merged into this one."""
        query = (
            select(ComplaintRow).where(ComplaintRow.duplicate_of_id == complaint_id).order_by(ComplaintRow.id)
        )
        return (await self._session.scalars(query)).all()

    async def mark_duplicate(
        self,
        complaint: ComplaintRow,
        original: ComplaintRow,
        *,
        actor: str = "staff",
        actor_user_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Merge `complaint` into `original`: one case, with a counter of reporters."""
        await self.change_status(
            complaint,
            ComplaintStatus.DUPLICATE,
            actor=actor,
            actor_user_id=actor_user_id,
            details={**(details or {}), "original": original.id},
        )
        lifecycle.merge(complaint, original, await self.duplicates_of(complaint.id))
        await self.log(
            original, "merged", actor=actor, actor_user_id=actor_user_id, details={"duplicate": complaint.id}
        )

    async def due_for_reminder(
        self, now: datetime, before: timedelta, *, limit: int = 200
    ) -> Sequence[ComplaintRow]:
        """Open complaints whose deadline is within `before` and that were not reminded yet."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.status.in_(statuses(ON_DESK)),
                ComplaintRow.deadline_at.is_not(None),
                ComplaintRow.deadline_at > now,
                ComplaintRow.deadline_at <= now + before,
                ComplaintRow.reminded_at.is_(None),
            )
            .order_by(ComplaintRow.deadline_at)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def overdue(
        self, now: datetime, *, below_level: int, older_than: timedelta, limit: int = 200
    ) -> Sequence[ComplaintRow]:
        """Open complaints past their deadline by `older_than` whose escalation is below a level."""
        query = (
            select(ComplaintRow)
            .where(
                ComplaintRow.status.in_(statuses(ON_DESK)),
                ComplaintRow.deadline_at.is_not(None),
                ComplaintRow.deadline_at <= now - older_than,
                ComplaintRow.escalation_level < below_level,
            )
            .order_by(ComplaintRow.deadline_at)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def similar_candidates(
        self, department_id: str, category: str, since: datetime, *, exclude: int, limit: int = 200
    ) -> list[Candidate]:
        """Open, non-duplicate complaints of the same department and category since a moment, newest
        first, as the columns the duplicate check compares."""
        query = (
            select(
                ComplaintRow.id,
                ComplaintRow.text,
                ComplaintRow.district,
                ComplaintRow.duplicate_of_id,
                ComplaintRow.created_at,
            )
            .where(
                ComplaintRow.department_id == department_id,
                ComplaintRow.category == category,
                ComplaintRow.created_at >= since,
                ComplaintRow.id != exclude,
                ComplaintRow.status.in_(statuses(UNRESOLVED)),
            )
            .order_by(ComplaintRow.id.desc())
            .limit(limit)
        )
        rows = await self._session.execute(query)
        return [Candidate(*row) for row in rows.tuples()]

    async def last_staff_name(self, complaint_id: int) -> str | None:
        """Who acted on the complaint last (for the card)."""
        query = (
            select(ComplaintEventRow.details)
            .where(ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.actor == "staff")
            .order_by(ComplaintEventRow.id.desc())
            .limit(1)
        )
        details = await self._session.scalar(query)
        return str(details["by"]) if isinstance(details, dict) and details.get("by") else None

    async def recent_for_resident(self, resident_id: int, *, since: datetime) -> list[datetime]:
        """When a resident filed private complaints since a moment (for the per-resident rate limit)."""
        query = select(ComplaintRow.created_at).where(
            ComplaintRow.resident_id == resident_id,
            ComplaintRow.source == "private",
            ComplaintRow.created_at >= since,
        )
        return list((await self._session.scalars(query)).all())

    async def count_by_status(self, *, since: datetime | None = None) -> dict[str, int]:
        """Number of complaints per status, optionally created since a moment."""
        query = select(ComplaintRow.status, func.count()).group_by(ComplaintRow.status)
        if since is not None:
            query = query.where(ComplaintRow.created_at >= since)
        rows = await self._session.execute(query)
        return {status: int(count) for status, count in rows.tuples()}

    async def count_by_department_and_status(self) -> dict[tuple[str, str], int]:
        """Number of complaints per (department, status), in one query (for the metrics endpoint)."""
        query = select(ComplaintRow.department_id, ComplaintRow.status, func.count()).group_by(
            ComplaintRow.department_id, ComplaintRow.status
        )
        rows = await self._session.execute(query)
        return {(department, status): int(count) for department, status, count in rows.tuples()}
