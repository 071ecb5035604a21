"""Department queue interface: durable, leased, at-least-once delivery of complaints to department chats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One claimed entry of a department queue."""

    id: str
    """Opaque handle for ack/release of this claim, unique within the queue."""
    queue: str
    """The department id."""
    payload: dict[str, Any]
    """JSON-serialisable data given to `put`."""
    attempts: int
    """How many times the entry has been claimed, including this claim (1 on first)."""
    enqueued_at: datetime
    """When `put` was called, aware UTC."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Size and lag of one department queue."""

    depth: int
    """Entries not yet acked: ready, leased and delayed."""
    oldest_age: float
    """Seconds since the oldest un-acked entry was enqueued, 0.0 when empty."""


class DepartmentQueue(Protocol):
    """Per-department work queue with leases: an entry claimed and not acked in time is delivered again.

    Delivery is at least once, so consumers must tolerate seeing an entry twice (a consumer that
    dies after sending but before acking). Ids are opaque: only pass them back to `ack`/`release`.
    """

    async def put(self, queue: str, payload: dict[str, Any]) -> str:
        """Append `payload` to `queue` and return the new entry's id."""
        ...

    async def claim(self, queue: str, consumer: str, *, count: int = 10) -> list[QueueEntry]:
        """Lease up to `count` ready entries to `consumer`, oldest first; never waits for new ones."""
        ...

    async def ack(self, queue: str, entry_id: str) -> None:
        """Remove a processed entry for good; acking an unknown or already acked entry does nothing."""
        ...

    async def ack_many(self, queue: str, entry_ids: Sequence[str]) -> None:
        """Ack several entries in one round trip, as `ack` does each; an empty list does nothing."""
        ...

    async def release(self, queue: str, entry_id: str, *, delay: float = 0.0) -> None:
        """Give a leased entry back without acking; it becomes claimable again after `delay` seconds."""
        ...

    async def stats(self, queue: str) -> QueueStats:
        """Depth and age of the oldest un-acked entry of `queue`."""
        ...

    async def queues(self) -> list[str]:
        """Names of the queues that have un-acked entries, sorted."""
        ...

    async def close(self) -> None:
        """Stop using the queue; the engine or Redis client given to the constructor stays open."""
        ...
