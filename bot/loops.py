"""A small helper shared by the long-running workers."""

from __future__ import annotations

import asyncio


async def wait_for_work(wake: asyncio.Event, stop: asyncio.Event, idle: float) -> None:
    """Sleep until new work is signalled, the worker is stopped, or `idle` seconds pass (to poll)."""
    wake.clear()
    waiter = asyncio.ensure_future(wake.wait())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, stopper}, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    stopper.cancel()
