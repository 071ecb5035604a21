"""The inbox of raw updates, claimed row by row, and the leadership leases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.domain import InboxStatus
from storage.base import utcnow
from storage.models import (
    InboxRow,
    LeaseRow,
)
from storage.repositories._shared import (
    _INBOX_CLAIM_LOCK,
    _insert_ignoring_conflicts,
    _lock_until_commit,
    _take_claims,
)


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A raw update to store before processing."""

    update_id: int
    kind: str
    payload: dict[str, Any]
    chat_id: int | None = None
    message_id: int | None = None


class InboxRepository:
    """The durable inbox of raw updates: written first, processed after, never lost."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, items: Sequence[InboxItem]) -> list[int]:
        """Store updates, ignoring ones already stored (Telegram may redeliver); return the new rows' ids."""
        if not items:
            return []
        statement = _insert_ignoring_conflicts(self._session, InboxRow, ["update_id"]).returning(InboxRow.id)
        now = utcnow()
        result = await self._session.execute(
            statement,
            [
                {
                    "update_id": item.update_id,
                    "kind": item.kind,
                    "chat_id": item.chat_id,
                    "message_id": item.message_id,
                    "payload": item.payload,
                    "status": InboxStatus.PENDING.value,
                    "attempts": 0,
                    "received_at": now,
                }
                for item in items
            ],
        )
        return sorted(int(inbox_id) for inbox_id in result.scalars().all())

    async def get(self, inbox_id: int) -> InboxRow | None:
        """One inbox row."""
        return await self._session.get(InboxRow, inbox_id)

    async def pending(self, *, limit: int = 100, max_attempts: int = 5) -> Sequence[InboxRow]:
        """Oldest unprocessed updates that have not failed too often."""
        query = (
            select(InboxRow)
            .where(InboxRow.status == InboxStatus.PENDING.value, InboxRow.attempts < max_attempts)
            .order_by(InboxRow.id)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def claim(
        self,
        holder: str,
        *,
        limit: int,
        lease: timedelta,
        max_attempts: int = 5,
        per_chat: int | None = None,
        skip_chats: Collection[int] = (),
        skip_ids: Collection[int] = (),
        chat_id: int | None = None,
    ) -> Sequence[InboxRow]:
        """Claim the oldest pending rows for `holder` until the lease ends, in id order.

        Chats another holder is working on are skipped, so one chat's updates are handled by one
        instance at a time and in order; on PostgreSQL claims are serialised by an advisory lock
        held until the caller commits. `per_chat` caps the rows of any one chat (rows without a chat
        count as one chat), so a flooded chat cannot fill the claim; `skip_chats` and `skip_ids` leave
        out what the caller already has in hand; `chat_id` claims only that chat's rows.
        """
        now = utcnow()
        await _lock_until_commit(self._session, _INBOX_CLAIM_LOCK)
        busy_chats = select(InboxRow.chat_id).where(
            InboxRow.status == InboxStatus.PENDING.value,
            InboxRow.claimed_until > now,
            InboxRow.claimed_by != holder,
            InboxRow.chat_id.is_not(None),
        )
        claimable = (
            InboxRow.status == InboxStatus.PENDING.value,
            or_(
                InboxRow.claimed_until.is_(None),
                InboxRow.claimed_until <= now,
                InboxRow.claimed_by == holder,
            ),
        )
        conditions = [
            *claimable,
            InboxRow.attempts < max_attempts,
            or_(InboxRow.chat_id.is_(None), InboxRow.chat_id.not_in(busy_chats)),
        ]
        if chat_id is not None:
            conditions.append(InboxRow.chat_id == chat_id)
        if skip_chats:
            conditions.append(or_(InboxRow.chat_id.is_(None), InboxRow.chat_id.not_in(list(skip_chats))))
        if skip_ids:
            conditions.append(InboxRow.id.not_in(list(skip_ids)))
        if per_chat is None:
            candidates = select(InboxRow.id).where(*conditions).order_by(InboxRow.id).limit(limit)
        else:
            # each chat's oldest `per_chat` rows: a window over the pending rows, ranked within their chat
            rank = func.row_number().over(partition_by=InboxRow.chat_id, order_by=InboxRow.id)
            ranked = select(InboxRow.id, rank.label("rank")).where(*conditions).subquery()
            candidates = (
                select(ranked.c.id).where(ranked.c.rank <= per_chat).order_by(ranked.c.id).limit(limit)
            )
        ids = list((await self._session.scalars(candidates)).all())
        return await _take_claims(self._session, InboxRow, ids, claimable, holder, now + lease)

    async def release(self, inbox_ids: Sequence[int], holder: str) -> None:
        """Give up `holder`'s claim on rows it will not handle (a clean stop): others may take them now."""
        if not inbox_ids:
            return
        await self._session.execute(
            update(InboxRow)
            .where(
                InboxRow.id.in_(inbox_ids),
                InboxRow.claimed_by == holder,
                InboxRow.status == InboxStatus.PENDING.value,
            )
            .values(claimed_by=None, claimed_until=None)
        )

    async def renew(self, inbox_ids: Sequence[int], holder: str, *, lease: timedelta) -> set[int]:
        """Extend `holder`'s claim on these rows; the ids returned are the ones it still holds."""
        if not inbox_ids:
            return set()
        kept = await self._session.scalars(
            update(InboxRow)
            .where(
                InboxRow.id.in_(inbox_ids),
                InboxRow.claimed_by == holder,
                InboxRow.status == InboxStatus.PENDING.value,
            )
            .values(claimed_until=utcnow() + lease)
            .returning(InboxRow.id)
        )
        return set(kept.all())

    async def mark_processed(self, inbox_id: int) -> None:
        """The update was handled; keep the row for audit and idempotency."""
        await self.mark_processed_many([inbox_id])

    async def mark_processed_many(self, inbox_ids: Sequence[int]) -> None:
        """Several updates were handled together: one statement marks them all."""
        if not inbox_ids:
            return
        await self._session.execute(
            update(InboxRow)
            .where(InboxRow.id.in_(list(inbox_ids)))
            .values(
                status=InboxStatus.PROCESSED.value,
                processed_at=utcnow(),
                error=None,
                claimed_by=None,
                claimed_until=None,
            )
        )

    async def record_failure(self, inbox_id: int, error: str, *, max_attempts: int = 5) -> None:
        """Count a failed attempt; after `max_attempts` the row is parked as failed for a human."""
        row = await self._session.get(InboxRow, inbox_id)
        if row is None:
            return
        row.attempts += 1
        row.error = error[:2000]
        row.claimed_by = None  # free for a retry, by this instance or another
        row.claimed_until = None
        if row.attempts >= max_attempts:
            row.status = InboxStatus.FAILED.value

    async def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        rows = await self._session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status))
        return {status: int(count) for status, count in rows.tuples()}


class LeaseRepository:
    """Named leases: one holder at a time until the lease expires (e.g. the polling leader)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease for `ttl`; True when `holder` holds it afterwards."""
        now = utcnow()
        values = {"name": name, "holder": holder, "expires_at": now + ttl}
        dialect = self._session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(LeaseRow)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": holder, "expires_at": values["expires_at"]},
                where=or_(LeaseRow.expires_at <= now, LeaseRow.holder == holder),
            )
            .returning(LeaseRow.holder)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() == holder

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up now, if `holder` has it, so another instance need not wait for it to expire."""
        await self._session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now, if anyone."""
        row = await self._session.get(LeaseRow, name, populate_existing=True)
        if row is None or row.expires_at <= utcnow():
            return None
        return row.holder
