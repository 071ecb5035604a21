"""Leadership among several instances: a named lease in the database, renewed while it is held.

Only the leader polls Telegram (two getUpdates callers make Telegram answer 409 Conflict) and runs the
department delivery workers (so one process keeps each department chat's rate budget). Every instance
processes the inbox, serves the webhook and runs the scheduler: those claim their work row by row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.ops.retry import sleep_or_stop
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

Duties = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class Leadership:
    """Holds the lease `name` for this instance and runs the leader's duties only while it is held."""

    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], name: str, holder: str, *, ttl_seconds: float
    ) -> None:
        self._uow_factory = uow_factory
        self.name = name
        self.holder = holder
        self._ttl = ttl_seconds
        self.is_leader = False
        self.terms = 0  # how many times this instance became the leader

    async def try_acquire(self) -> bool:
        """Take or renew the lease; False when another instance holds it or the database is away."""
        try:
            async with self._uow_factory() as uow:
                held = await uow.leases.acquire(self.name, self.holder, timedelta(seconds=self._ttl))
                await uow.commit()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("lease %s: could not reach the database: %s", self.name, type(exc).__name__)
            return False
        return held

    async def release(self) -> None:
        """Give the lease up (on a clean stop) so another instance takes over at once."""
        with contextlib.suppress(SQLAlchemyError, OSError):
            async with self._uow_factory() as uow:
                await uow.leases.release(self.name, self.holder)
                await uow.commit()

    async def lead(self, duties: Duties, stop: asyncio.Event) -> None:
        """Until `stop`: wait to become the leader, run `duties` while leading, step down when the lease
        cannot be renewed before it runs out. An error in the duties ends this call with that error."""
        renew_every = self._ttl / 3
        while not stop.is_set():
            if not await self.try_acquire():
                await sleep_or_stop(stop, renew_every)
                continue
            held_until = time.monotonic() + self._ttl
            self.is_leader = True
            self.terms += 1
            log.info("this instance (%s) now leads: %s", self.holder, self.name)
            duty_stop = asyncio.Event()
            task = asyncio.create_task(duties(duty_stop), name=f"{self.name}-duties")
            stopped = asyncio.ensure_future(stop.wait())
            try:
                while True:
                    done, _ = await asyncio.wait(
                        {task, stopped}, timeout=renew_every, return_when=asyncio.FIRST_COMPLETED
                    )
                    if done:
                        break
                    if await self.try_acquire():
                        held_until = time.monotonic() + self._ttl
                    elif time.monotonic() > held_until - renew_every:
                        # another instance may take over once the lease runs out: stop before it does
                        log.warning("lease %s could not be renewed; stepping down", self.name)
                        break
            finally:
                stopped.cancel()
                duty_stop.set()
                await asyncio.gather(task, return_exceptions=True)
                self.is_leader = False
                if stop.is_set():
                    await self.release()
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
