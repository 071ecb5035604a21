"""Riding out outages: which errors mean "the database, Redis or the Bot API is away", how long to wait.

Every loop of the bot (polling, inbox, delivery workers, scheduler) and every step that follows a
committed change keeps going when a dependency is away for a while: the failed attempt is logged in
one line and retried after an exponentially growing pause, and nothing is confirmed or acked that was
not done. Services and handlers use `outlast`; the worker loops in bot/workers/loops.py use the rest.
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

__all__ = ["Backoff", "describe", "is_outage", "outlast", "sleep_or_stop"]

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
