"""The long-running loops' shared parts: the worker loop and waiting for work.

Every worker (inbox, notices, delivery) claims work, acts on it and records what it did in rounds of
`run_rounds`; a round that fails because a dependency is away is retried with the backoff of
bot/ops/retry.py, and nothing is confirmed or acked that was not done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.ops.retry import Backoff

__all__ = ["run_rounds", "supervise", "wait_for_any"]


async def wait_for_any(*events: asyncio.Event, idle: float) -> None:
    """Sleep until one of `events` is set, or `idle` seconds pass."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()


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
    wake: Sequence[asyncio.Event] = (),
) -> None:
    """The loop of every worker: run `round_` until `stop`, again at once after a round that did work,
    after `pause()` after one that found none, and after the backoff's pause after one that failed.

    A failed round is logged as `name` and the same work is tried again: nothing was confirmed or acked.
    With `reset_each_round` every round that did not fail resets `backoff`; without it the round resets
    it itself, once it knows the work is healthy again. With `abandon`, a round still running when `stop`
    is set is cancelled and `abandon()` gives back what it held; without it the round is finished.
    The `wake` events are cleared before each round, not after it: work signalled while a round claims
    (too late for its claim) leaves its event set, so the pause after that round returns at once.
    """
    while not stop.is_set():
        for event in wake:
            event.clear()
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
