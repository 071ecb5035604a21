"""Putting complaints on their department's queue and recording that they are queued."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from bot.core.domain import ComplaintStatus
from storage.base import utcnow
from storage.queues import DepartmentQueue
from storage.uow import UnitOfWork


class Enqueuer:
    """Puts complaints on their department's queue and records that they are queued."""

    def __init__(
        self,
        queue: DepartmentQueue,
        uow_factory: Callable[[], UnitOfWork],
        *,
        on_enqueued: Callable[[str], None] | None = None,
    ) -> None:
        self._queue = queue
        self._uow_factory = uow_factory
        # wakes this process's delivery worker at once; other instances find the entry by polling
        self.on_enqueued = on_enqueued

    def _uow(self) -> UnitOfWork:
        return self._uow_factory()

    async def enqueue(self, complaint_id: int, department: str) -> None:
        """Queue the card job, then mark the complaint queued (a crash in between is swept up later)."""
        await self._queue.put(department, {"complaint_id": complaint_id})
        if self.on_enqueued is not None:
            self.on_enqueued(department)
        async with self._uow() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is not None and row.status == ComplaintStatus.NEW.value:
                await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
                await uow.commit()

    async def sweep_new(self, *, older_than: timedelta = timedelta(0)) -> int:
        """Queue complaints a crash left in `new` (stored but never put on a queue), and cards opened
        from a combined message whose queue entry a crash may have lost (a second entry is harmless)."""
        async with self._uow() as uow:
            rows = await uow.complaints.by_status(ComplaintStatus.NEW, limit=1000)
            pending = [(r.id, r.department_id) for r in rows if r.created_at <= utcnow() - older_than]
            pending += [(r.id, r.department_id) for r in await uow.complaints.opening()]
        for complaint_id, department in pending:
            await self.enqueue(complaint_id, department)
        return len(pending)

    async def enqueue_many(self, targets: Sequence[tuple[int, str]]) -> None:
        """Queue several (complaint, department) card jobs, then mark the new ones queued at once."""
        distinct = list(dict.fromkeys(targets))  # a run merging into one original refreshes its card once
        if not distinct:
            return
        for complaint_id, department in distinct:
            await self._queue.put(department, {"complaint_id": complaint_id})
            if self.on_enqueued is not None:
                self.on_enqueued(department)
        async with self._uow() as uow:
            rows = await uow.complaints.get_many([complaint_id for complaint_id, _ in distinct])
            fresh = [row for row in rows if row.status == ComplaintStatus.NEW.value]
            for row in fresh:
                await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
            if fresh:
                await uow.commit()
