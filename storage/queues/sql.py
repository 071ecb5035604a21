"""Department queues in the database: the embedded default, safe for several consumers on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column

from storage.base import Base, BigIntPK, UTCDateTime, utcnow
from storage.queues.base import DepartmentQueue, QueueEntry, QueueStats

# Column sizes, checked up front: PostgreSQL would reject longer values, SQLite would store them.
_QUEUE_NAME_MAX = 64
_CONSUMER_NAME_MAX = 128


class QueueEntryRow(Base):
    """One un-acked entry of a department queue; acking deletes the row."""

    __tablename__ = "queue_entries"
    # Claims look up "ready entries of one queue", so the index leads with the queue.
    __table_args__ = (Index("ix_queue_entries_ready", "queue", "available_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String(_QUEUE_NAME_MAX), nullable=False, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # When the entry may be claimed next: enqueue time, end of the current lease, or end of a release delay.
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(_CONSUMER_NAME_MAX), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


def _row_id(entry_id: str) -> int:
    """The row id behind an entry id, or ValueError for an id this queue never issued."""
    if not (entry_id.isascii() and entry_id.isdigit()):
        raise ValueError(f"malformed queue entry id: {entry_id!r}")
    return int(entry_id)


class SqlDepartmentQueue(DepartmentQueue):
    """Department queues stored in the `queue_entries` table."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, lease_seconds: float = 60.0
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._session_factory = session_factory
        self._lease = timedelta(seconds=lease_seconds)
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("department queue is closed")

    async def put(self, queue: str, payload: dict[str, Any]) -> str:
        """Append `payload` to `queue` and return the new entry's id."""
        self._check_open()
        if len(queue) > _QUEUE_NAME_MAX:
            raise ValueError(f"queue name longer than {_QUEUE_NAME_MAX} characters: {queue!r}")
        now = utcnow()
        row = QueueEntryRow(queue=queue, payload=payload, enqueued_at=now, available_at=now, attempts=0)
        async with self._session_factory() as session, session.begin():
            session.add(row)
            await session.flush()
            return str(row.id)

    async def claim(self, queue: str, consumer: str, *, count: int = 10) -> list[QueueEntry]:
        """Lease up to `count` ready entries to `consumer`, oldest first; never waits for new ones."""
        self._check_open()
        if len(consumer) > _CONSUMER_NAME_MAX:
            raise ValueError(f"consumer name longer than {_CONSUMER_NAME_MAX} characters: {consumer!r}")
        if count <= 0:
            return []
        now = utcnow()
        until = now + self._lease
        candidate = aliased(QueueEntryRow)
        async with self._session_factory() as session, session.begin():
            pick = (
                select(candidate.id)
                .where(candidate.queue == queue, candidate.available_at <= now)
                .order_by(candidate.id)
                .limit(count)
            )
            # The candidates are picked once, in a CTE: PostgreSQL may plan a plain `id IN (subquery)`
            # as a semi-join that re-runs the subquery for every row, and with SKIP LOCKED each re-run
            # skips the rows just updated and picks new ones, so one claim would take the whole queue.
            picked = pick.cte("picked")
            if session.get_bind().dialect.name == "postgresql":
                # Concurrent claimers skip each other's rows instead of queueing behind the row locks.
                picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
            # The readiness test is repeated on the updated rows, so a row another transaction claimed
            # meanwhile is never taken twice (SQLite serialises writers and has no row locks).
            stmt = (
                update(QueueEntryRow)
                .where(
                    QueueEntryRow.id.in_(select(picked.c.id)),
                    QueueEntryRow.queue == queue,
                    QueueEntryRow.available_at <= now,
                )
                .values(
                    lease_owner=consumer,
                    lease_until=until,
                    # A leased entry is claimable again once the lease runs out, without a sweeper.
                    available_at=until,
                    attempts=QueueEntryRow.attempts + 1,
                )
                .returning(
                    QueueEntryRow.id,
                    QueueEntryRow.payload,
                    QueueEntryRow.attempts,
                    QueueEntryRow.enqueued_at,
                )
                .execution_options(synchronize_session=False)
            )
            result = await session.execute(stmt)
            # RETURNING follows no particular order.
            rows = sorted(result.all(), key=lambda row: row.id)
        return [
            QueueEntry(
                id=str(row.id),
                queue=queue,
                payload=row.payload,
                attempts=row.attempts,
                enqueued_at=row.enqueued_at,
            )
            for row in rows
        ]

    async def ack(self, queue: str, entry_id: str) -> None:
        """Remove a processed entry for good; acking an unknown or already acked entry does nothing."""
        self._check_open()
        row_id = _row_id(entry_id)
        async with self._session_factory() as session, session.begin():
            await session.execute(
                delete(QueueEntryRow)
                .where(QueueEntryRow.id == row_id, QueueEntryRow.queue == queue)
                .execution_options(synchronize_session=False)
            )

    async def ack_many(self, queue: str, entry_ids: Sequence[str]) -> None:
        """Ack several entries in one round trip, as `ack` does each; an empty list does nothing."""
        self._check_open()
        row_ids = sorted({_row_id(entry_id) for entry_id in entry_ids})
        if not row_ids:
            return
        async with self._session_factory() as session, session.begin():
            await session.execute(
                delete(QueueEntryRow)
                .where(QueueEntryRow.id.in_(row_ids), QueueEntryRow.queue == queue)
                .execution_options(synchronize_session=False)
            )

    async def release(self, queue: str, entry_id: str, *, delay: float = 0.0) -> None:
        """Give a leased entry back without acking; it becomes claimable again after `delay` seconds."""
        self._check_open()
        row_id = _row_id(entry_id)
        available_at = utcnow() + timedelta(seconds=max(delay, 0.0))
        async with self._session_factory() as session, session.begin():
            await session.execute(
                update(QueueEntryRow)
                .where(
                    QueueEntryRow.id == row_id,
                    QueueEntryRow.queue == queue,
                    # Only a claimed entry can be given back; an unclaimed one keeps its place.
                    QueueEntryRow.lease_owner.is_not(None),
                )
                .values(available_at=available_at, lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    async def stats(self, queue: str) -> QueueStats:
        """Depth and age of the oldest un-acked entry of `queue`."""
        self._check_open()
        async with self._session_factory() as session, session.begin():
            depth, oldest = (
                await session.execute(
                    select(func.count(), func.min(QueueEntryRow.enqueued_at)).where(
                        QueueEntryRow.queue == queue
                    )
                )
            ).one()
        if not depth or oldest is None:
            return QueueStats(depth=0, oldest_age=0.0)
        return QueueStats(depth=depth, oldest_age=max((utcnow() - oldest).total_seconds(), 0.0))

    async def queues(self) -> list[str]:
        """Names of the queues that have un-acked entries, sorted."""
        self._check_open()
        async with self._session_factory() as session, session.begin():
            names = (
                await session.scalars(select(QueueEntryRow.queue).distinct().order_by(QueueEntryRow.queue))
            ).all()
        return list(names)

    async def close(self) -> None:
        """Stop using the queue; the engine behind the session factory belongs to the caller."""
        self._closed = True
