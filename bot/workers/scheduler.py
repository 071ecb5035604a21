"""Cron and interval jobs in the city's timezone; each slot runs once across all bot instances.

A slot is claimed by inserting a (job, scheduled time) row into `job_runs`: the insert of the one
instance that wins is the lease, so two instances never send the same digest twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.core.schedule import Job
from bot.ops.retry import Backoff, sleep_or_stop
from storage.base import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class Scheduler:
    """Runs jobs at their times until stopped."""

    def __init__(
        self,
        jobs: list[Job],
        uow_factory: Callable[[], UnitOfWork],
        tz: ZoneInfo,
        *,
        owner: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.jobs = jobs
        self._uow_factory = uow_factory
        self._tz = tz
        self._owner = owner
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        """Sleep until the next slot, claim it, run it; repeat until `stop`."""
        if not self.jobs:
            await stop.wait()
            return
        upcoming = {job.name: job.next_after(self._clock(), self._tz) for job in self.jobs}
        backoff = Backoff(cap=60.0)
        while not stop.is_set():
            name = min(upcoming, key=lambda n: upcoming[n])
            wait = (upcoming[name] - self._clock()).total_seconds()
            if wait > 0:
                await sleep_or_stop(stop, min(wait, 60.0))
                continue
            job = next(j for j in self.jobs if j.name == name)
            slot = upcoming[name]
            try:
                await self.run_slot(job, slot)
            except Exception as exc:
                # the database is away: the same slot is tried again (its claim keeps it to one run)
                await backoff.failed(log, f"scheduler: job {job.name}", exc, stop)
                continue
            backoff.reset()
            upcoming[name] = job.next_after(slot, self._tz)

    async def run_slot(self, job: Job, slot: datetime) -> bool:
        """Run `job` for `slot` if no other instance has; True when this instance ran it."""
        key = slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        async with self._uow_factory() as uow:
            claimed = await uow.jobs.claim(job.name, key, self._owner)
            await uow.commit()
        if not claimed:
            log.debug("job %s for %s runs elsewhere", job.name, key)
            return False
        try:
            await job.run(slot)
        except Exception:
            log.exception("job %s for %s failed", job.name, key)
            return True
        async with self._uow_factory() as uow:
            await uow.jobs.finish(job.name, key)
            await uow.commit()
        return True
