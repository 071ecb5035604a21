"""The long-running loops' shared parts: the worker loop, waiting for work, riding out outages.

Every loop of the bot (polling, inbox, delivery workers, scheduler) keeps going when the database,
Redis or the Bot API is away for a while: the failed round is logged in one line and retried after an
exponentially growing pause, and nothing is confirmed or acked that was not done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from bot.telegram import TelegramError, TelegramTransientError

T = TypeVar("T")

_SQL_OUTAGES = (
    sa_errors.OperationalError,
    sa_errors.InterfaceError,
    sa_errors.DisconnectionError,
    sa_errors.TimeoutError,  # no pooled connection came free in time
)
_REDIS_OUTAGES = (
    redis_errors.ConnectionError,  # BusyLoadingError (Redis replaying its AOF) included
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica during a failover
    redis_errors.TryAgainError,
)


async def wait_for_work(wake: asyncio.Event, stop: asyncio.Event, idle: float) -> None:
    """Sleep until new work is signalled, the worker is stopped, or `idle` seconds pass (to poll)."""
    wake.clear()
    await wait_for_any(wake, stop, idle=idle)


async def wait_for_any(*events: asyncio.Event, idle: float) -> None:
    """Sleep until one of `events` is set, or `idle` seconds pass."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()


def is_outage(exc: BaseException) -> bool:
    """True for an unreachable database, Redis or Bot API: the same work will succeed once it is back."""
    if isinstance(exc, sa_errors.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        _SQL_OUTAGES + _REDIS_OUTAGES + (TelegramTransientError, ConnectionError, TimeoutError),
    )


def describe(exc: BaseException) -> str:
    """A one-line account of an error for the log: its type and the driver's first line, never the
    SQL parameters (they may carry a resident's text or name)."""
    if isinstance(exc, sa_errors.DBAPIError) and exc.orig is not None:
        detail = str(exc.orig).strip().splitlines()
        return f"{type(exc).__name__} ({type(exc.orig).__name__}: {detail[0][:200] if detail else ''})"
    if isinstance(exc, sa_errors.SQLAlchemyError):
        return type(exc).__name__
    detail = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:200]}" if detail else type(exc).__name__


class Backoff:
    """Exponentially growing pauses between failed rounds of a loop, reset by a successful round."""

    def __init__(self, *, first: float = 0.5, cap: float = 30.0) -> None:
        self._first = first
        self._cap = cap
        self.delay = first
        self.failures = 0

    def reset(self) -> None:
        """The last round worked: the next failure waits the shortest pause again."""
        self.delay = self._first
        self.failures = 0

    async def failed(
        self, log: logging.Logger, loop: str, exc: BaseException, stop: asyncio.Event | None = None
    ) -> None:
        """Log the failed round in one line, then wait the current pause (or until `stop` is set)."""
        self.failures += 1
        if is_outage(exc) or isinstance(exc, (sa_errors.SQLAlchemyError, TelegramError)):
            log.warning("%s: %s; retrying in %.1fs", loop, describe(exc), self.delay)
        else:  # a bug, not an outage: keep the traceback (it never carries the SQL parameters)
            log.error("%s: %s; retrying in %.1fs", loop, describe(exc), self.delay, exc_info=exc)
        await sleep_or_stop(stop, self.delay)
        self.delay = min(self.delay * 2, self._cap)


async def sleep_or_stop(stop: asyncio.Event | None, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_rounds(
    name: str,
    round_: Callable[[], Awaitable[object]],
    *,
    stop: asyncio.Event,
    pause: Callable[[], Awaitable[None]],
    backoff: Backoff,
    log: logging.Logger,
    reset_each_round: bool = True,
    abandon: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The loop of every worker: run `round_` until `stop`, again at once after a round that did work,
    after `pause()` after one that found none, and after the backoff's pause after one that failed.

    A failed round is logged as `name` and the same work is tried again: nothing was confirmed or acked.
    With `reset_each_round` every round that did not fail resets `backoff`; without it the round resets
    it itself, once it knows the work is healthy again. With `abandon`, a round still running when `stop`
    is set is cancelled and `abandon()` gives back what it held; without it the round is finished.
    """
    while not stop.is_set():
        if abandon is None:
            attempt: Awaitable[object] = round_()
        else:
            attempt = current = asyncio.ensure_future(round_())
            if not await _done_before(current, stop):
                await abandon()
                return
        try:
            worked = await attempt
        except Exception as exc:
            await backoff.failed(log, name, exc, stop)
            continue
        if reset_each_round:
            backoff.reset()
        if not worked:
            await pause()


async def _done_before(task: asyncio.Future[object], stop: asyncio.Event) -> bool:
    """Wait for `task` or `stop`; a task still running when `stop` is set is cancelled (False)."""
    stopped: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


async def supervise(
    name: str,
    run: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
    log: logging.Logger,
    *,
    pause: float = 1.0,
) -> None:
    """Run `run(stop)` until it returns; when it fails, log why and start it again after a pause, so an
    unexpected error in one loop never stops the bot (the loops handle outages themselves)."""
    backoff = Backoff(first=pause, cap=60.0)
    while True:
        try:
            await run(stop)
            return
        except Exception as exc:
            await backoff.failed(log, f"{name} ended on an error, restarting it", exc, stop)
            if stop.is_set():
                return


async def outlast(
    log: logging.Logger, what: str, call: Callable[[], Awaitable[T]], *, cap: float = 30.0
) -> T:
    """Run `call`, retrying it with backoff for as long as it meets an outage: for the work that follows
    a committed change (a retry of the whole update would find the change done and skip that work)."""
    backoff = Backoff(cap=cap)
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_outage(exc):
                raise
            await backoff.failed(log, what, exc)
