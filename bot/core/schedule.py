"""A job's schedule: a cron line in the city's local time or a fixed interval, and its next slot.

Services say when their work is due (a digest every Monday at 9, retention every night) with a `Job`;
bot/workers/scheduler.py runs the jobs, each slot once across all instances.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

__all__ = ["Job", "JobFunction"]

JobFunction = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Job:
    """A job on a cron schedule (local time) or a fixed interval."""

    name: str
    run: JobFunction
    cron: str | None = None
    every: timedelta | None = None

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """The first scheduled time strictly after `moment` (UTC)."""
        if self.cron is not None:
            local = moment.astimezone(tz)
            following: datetime = croniter(self.cron, local).get_next(datetime)
            return following.astimezone(UTC)
        assert self.every is not None
        step = self.every.total_seconds()
        # interval slots are aligned to the epoch, so every instance computes the same slots
        return datetime.fromtimestamp((int(moment.timestamp() // step) + 1) * step, UTC)
