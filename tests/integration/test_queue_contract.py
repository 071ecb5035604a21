"""One contract for every department queue: SQL on SQLite and PostgreSQL, and Redis Streams."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.base import Base
from storage.db import create_engine, create_session_factory
from storage.queues import (
    DepartmentQueue,
    QueueEntry,
    RedisDepartmentQueue,
    SqlDepartmentQueue,
)
from storage.queues.sql import QueueEntryRow

# Only the queue table: other tables of the schema are not this suite's business.
QUEUE_TABLE = Base.metadata.tables[QueueEntryRow.__tablename__]
# Short enough to keep the suite quick, long enough that claiming a handful of entries fits in it.
SHORT_LEASE = 0.3
# How long to sleep for a lease or delay of SHORT_LEASE to have run out, with room for a slow machine.
PAST_SHORT = 0.45


class Harness:
    """Opens queue objects of one backend, each on its own connection, and cleans up after a test."""

    name: str

    async def setup(self) -> None:
        """Prepare isolated storage for one test."""

    async def open(self, *, lease_seconds: float = 60.0) -> DepartmentQueue:
        """A new queue object on a new connection (a new engine or Redis client)."""
        raise NotImplementedError

    async def stop(self, queue: DepartmentQueue) -> None:
        """Close `queue` and the connection it was opened on, as a stopping process would."""
        raise NotImplementedError

    async def teardown(self) -> None:
        """Close whatever is still open and drop the test's storage."""
        raise NotImplementedError


class SqlHarness(Harness):
    """SqlDepartmentQueue on SQLite (a file per test) or PostgreSQL (a schema per test)."""

    def __init__(self, name: str, url: str, schema: str | None) -> None:
        self.name = name
        self._url = url
        self._schema = schema
        self._engines: dict[int, AsyncEngine] = {}

    def _engine(self) -> tuple[AsyncEngine, AsyncEngine]:
        """A new engine, and the same engine mapped onto the test's schema."""
        engine = create_engine(self._url)
        if self._schema is None:
            return engine, engine
        return engine, engine.execution_options(schema_translate_map={None: self._schema})

    async def setup(self) -> None:
        """Create the queue table (in a fresh schema on PostgreSQL, so parallel runs do not collide)."""
        engine, mapped = self._engine()
        try:
            if self._schema is not None:
                async with engine.begin() as conn:
                    await conn.execute(text(f'CREATE SCHEMA "{self._schema}"'))
            async with mapped.begin() as conn:
                await conn.run_sync(Base.metadata.create_all, tables=[QUEUE_TABLE])
        finally:
            await engine.dispose()

    async def open(self, *, lease_seconds: float = 60.0) -> DepartmentQueue:
        """A new queue object on a new engine."""
        engine, mapped = self._engine()
        queue = SqlDepartmentQueue(create_session_factory(mapped), lease_seconds=lease_seconds)
        self._engines[id(queue)] = engine
        return queue

    async def stop(self, queue: DepartmentQueue) -> None:
        """Close `queue` and dispose of its engine."""
        await queue.close()
        await self._engines.pop(id(queue)).dispose()

    async def teardown(self) -> None:
        """Dispose of every engine and drop the PostgreSQL schema."""
        for engine in self._engines.values():
            await engine.dispose()
        self._engines.clear()
        if self._schema is not None:
            engine, _ = self._engine()
            try:
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE'))
            finally:
                await engine.dispose()


class RedisHarness(Harness):
    """RedisDepartmentQueue under a key prefix of its own."""

    def __init__(self, name: str, url: str, *, decode_responses: bool) -> None:
        self.name = name
        self._url = url
        self._decode = decode_responses
        self._prefix = f"shagym-test-{uuid.uuid4().hex}"
        self._clients: dict[int, Redis] = {}

    async def open(self, *, lease_seconds: float = 60.0) -> DepartmentQueue:
        """A new queue object on a new Redis client."""
        client = Redis.from_url(self._url, decode_responses=self._decode)
        queue = RedisDepartmentQueue(client, prefix=self._prefix, lease_seconds=lease_seconds)
        self._clients[id(queue)] = client
        return queue

    async def stop(self, queue: DepartmentQueue) -> None:
        """Close `queue` and its client."""
        await queue.close()
        await self._clients.pop(id(queue)).aclose()

    async def teardown(self) -> None:
        """Close every client and delete the test's keys."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        client = Redis.from_url(self._url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{self._prefix}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@pytest.fixture(
    params=[
        pytest.param("sql-sqlite"),
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-decoded", marks=pytest.mark.redis),
    ]
)
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """Each queue implementation in turn, on storage no other test sees."""
    backend: str = request.param
    made: Harness
    if backend == "sql-sqlite":
        made = SqlHarness(backend, f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}", None)
    elif backend == "sql-postgres":
        url = os.environ.get("SHAGYM_TEST_DATABASE_URL")
        if not url:
            pytest.skip("SHAGYM_TEST_DATABASE_URL is not set: PostgreSQL queue tests need a database URL")
        made = SqlHarness(backend, url, f"queue_test_{uuid.uuid4().hex[:16]}")
    else:
        url = os.environ.get("SHAGYM_TEST_REDIS_URL")
        if not url:
            pytest.skip("SHAGYM_TEST_REDIS_URL is not set: Redis queue tests need a Redis URL")
        made = RedisHarness(backend, url, decode_responses=backend == "redis-decoded")
    await made.setup()
    try:
        yield made
    finally:
        await made.teardown()


def numbers(entries: list[QueueEntry]) -> list[int]:
    """The `n` of each entry's payload, in claim order."""
    return [entry.payload["n"] for entry in entries]


async def put_numbers(queue: DepartmentQueue, name: str, count: int) -> list[str]:
    """Put payloads {"n": 0} .. {"n": count - 1} one after another."""
    return [await queue.put(name, {"n": n}) for n in range(count)]


async def test_round_trip_keeps_the_payload(harness: Harness) -> None:
    queue = await harness.open()
    payload: dict[str, Any] = {
        "complaint_id": 42,
        "text": "Жол бұзылған — яма на дороге",
        "tags": ["roads", "#жол"],
        "nested": {"values": [1, 2.5, None, True], "empty": {}},
    }
    before = datetime.now(UTC)
    entry_id = await queue.put("roads", payload)
    after = datetime.now(UTC)

    [entry] = await queue.claim("roads", "worker-a")

    assert entry.id == entry_id
    assert entry.queue == "roads"
    assert entry.payload == payload
    assert entry.attempts == 1
    assert entry.enqueued_at.tzinfo is not None
    assert entry.enqueued_at.utcoffset() == UTC.utcoffset(None)
    assert before <= entry.enqueued_at <= after
    await queue.ack("roads", entry.id)
    assert await queue.claim("roads", "worker-a") == []


async def test_claim_is_first_in_first_out(harness: Harness) -> None:
    queue = await harness.open()
    await put_numbers(queue, "roads", 5)

    assert numbers(await queue.claim("roads", "worker-a", count=3)) == [0, 1, 2]
    assert numbers(await queue.claim("roads", "worker-a", count=10)) == [3, 4]
    assert await queue.claim("roads", "worker-a") == []


async def test_claim_on_an_empty_queue_returns_nothing(harness: Harness) -> None:
    queue = await harness.open()
    assert await queue.claim("never-used", "worker-a") == []
    assert await queue.claim("never-used", "worker-a", count=0) == []


async def test_a_leased_entry_is_not_claimed_by_another_consumer(harness: Harness) -> None:
    first = await harness.open()
    second = await harness.open()
    await put_numbers(first, "roads", 2)

    assert numbers(await first.claim("roads", "worker-a", count=1)) == [0]
    assert numbers(await second.claim("roads", "worker-b")) == [1]
    assert await second.claim("roads", "worker-b") == []
    assert await first.claim("roads", "worker-a") == []


async def test_an_entry_not_acked_within_the_lease_is_delivered_again(harness: Harness) -> None:
    queue = await harness.open(lease_seconds=SHORT_LEASE)
    entry_id = await queue.put("roads", {"n": 7})

    [first] = await queue.claim("roads", "worker-a")
    assert await queue.claim("roads", "worker-b") == []
    await asyncio.sleep(PAST_SHORT)
    [second] = await queue.claim("roads", "worker-b")
    await asyncio.sleep(PAST_SHORT)
    [third] = await queue.claim("roads", "worker-c")

    assert [first.id, second.id, third.id] == [entry_id] * 3
    assert [first.attempts, second.attempts, third.attempts] == [1, 2, 3]
    assert third.payload == {"n": 7}
    assert third.enqueued_at == first.enqueued_at
    await queue.ack("roads", third.id)
    await asyncio.sleep(PAST_SHORT)
    assert await queue.claim("roads", "worker-a") == []


async def test_ack_is_idempotent_and_final(harness: Harness) -> None:
    queue = await harness.open(lease_seconds=SHORT_LEASE)
    await put_numbers(queue, "roads", 2)
    [entry] = await queue.claim("roads", "worker-a", count=1)

    await queue.ack("roads", entry.id)
    await queue.ack("roads", entry.id)

    assert (await queue.stats("roads")).depth == 1
    await asyncio.sleep(PAST_SHORT)
    assert numbers(await queue.claim("roads", "worker-b")) == [1]


async def test_a_late_ack_after_the_lease_still_removes_the_entry(harness: Harness) -> None:
    queue = await harness.open(lease_seconds=SHORT_LEASE)
    await queue.put("roads", {"n": 0})
    [entry] = await queue.claim("roads", "worker-a")
    await asyncio.sleep(PAST_SHORT)

    await queue.ack("roads", entry.id)

    assert await queue.claim("roads", "worker-b") == []
    assert (await queue.stats("roads")).depth == 0


async def test_ack_many_removes_exactly_the_given_entries(harness: Harness) -> None:
    queue = await harness.open(lease_seconds=SHORT_LEASE)
    await put_numbers(queue, "roads", 4)
    await put_numbers(queue, "water", 1)
    entries = await queue.claim("roads", "worker-a", count=3)
    [water] = await queue.claim("water", "worker-a")

    # a repeated id is acked once; ids are unique only within a queue, so another queue keeps its own
    await queue.ack_many("roads", [entries[0].id, entries[2].id, entries[0].id])

    assert (await queue.stats("roads")).depth == 2
    assert (await queue.stats("water")).depth == 1
    await asyncio.sleep(PAST_SHORT)
    assert numbers(await queue.claim("roads", "worker-b")) == [1, 3]
    assert [e.id for e in await queue.claim("water", "worker-b")] == [water.id]


async def test_ack_many_is_idempotent_and_accepts_nothing(harness: Harness) -> None:
    queue = await harness.open()
    await put_numbers(queue, "roads", 2)
    entries = await queue.claim("roads", "worker-a")

    await queue.ack_many("roads", [])
    assert (await queue.stats("roads")).depth == 2
    await queue.ack_many("roads", [entry.id for entry in entries])
    await queue.ack_many("roads", [entry.id for entry in entries])

    assert (await queue.stats("roads")).depth == 0
    assert await queue.queues() == []


@pytest.mark.parametrize(
    ("lease", "delay"),
    [
        pytest.param(60.0, SHORT_LEASE, id="delay-shorter-than-lease"),
        pytest.param(SHORT_LEASE, 1.0, id="delay-longer-than-lease"),
    ],
)
async def test_ack_many_removes_released_entries(harness: Harness, lease: float, delay: float) -> None:
    queue = await harness.open(lease_seconds=lease)
    await put_numbers(queue, "roads", 2)
    first, second = await queue.claim("roads", "worker-a")
    await queue.release("roads", first.id, delay=delay)

    await queue.ack_many("roads", [first.id, second.id])

    assert (await queue.stats("roads")).depth == 0
    assert await queue.queues() == []
    await asyncio.sleep(delay + 0.15)
    assert await queue.claim("roads", "worker-b") == []


async def test_ack_many_rejects_malformed_ids(harness: Harness) -> None:
    queue = await harness.open()
    await put_numbers(queue, "roads", 1)
    [entry] = await queue.claim("roads", "worker-a")
    with pytest.raises(ValueError, match="malformed"):
        await queue.ack_many("roads", [entry.id, "not-an-id"])
    # nothing is acked when one id is malformed
    assert (await queue.stats("roads")).depth == 1


async def test_release_without_delay_makes_the_entry_claimable_at_once(harness: Harness) -> None:
    queue = await harness.open()
    await put_numbers(queue, "roads", 2)
    [entry] = await queue.claim("roads", "worker-a", count=1)

    await queue.release("roads", entry.id)

    again = await queue.claim("roads", "worker-b")
    assert numbers(again) == [0, 1]
    assert [e.attempts for e in again] == [2, 1]


@pytest.mark.parametrize(
    ("lease", "delay"),
    [
        pytest.param(60.0, SHORT_LEASE, id="delay-shorter-than-lease"),
        pytest.param(SHORT_LEASE, 1.0, id="delay-longer-than-lease"),
    ],
)
async def test_release_with_delay_waits_out_the_delay(harness: Harness, lease: float, delay: float) -> None:
    queue = await harness.open(lease_seconds=lease)
    # Text that JSON escapes differently on the way through a parked entry (quotes, slashes, Cyrillic).
    payload: dict[str, Any] = {"n": 0, "text": 'Жол / "яма" \\ ж\u0259', "tags": ["a/b"]}
    await queue.put("roads", payload)
    [entry] = await queue.claim("roads", "worker-a")

    await queue.release("roads", entry.id, delay=delay)

    assert await queue.claim("roads", "worker-b") == []
    # Past the lease but not the delay: the release delay, not the old lease, decides.
    if delay > PAST_SHORT:
        await asyncio.sleep(PAST_SHORT)
        assert await queue.claim("roads", "worker-b") == []
    assert (await queue.stats("roads")).depth == 1
    assert await queue.queues() == ["roads"]
    await asyncio.sleep(delay + 0.15)
    [again] = await queue.claim("roads", "worker-b")
    assert again.payload == payload
    assert again.attempts == 2
    assert again.enqueued_at == entry.enqueued_at
    await queue.ack("roads", again.id)
    assert (await queue.stats("roads")).depth == 0


@pytest.mark.parametrize(
    ("lease", "delay"),
    [
        pytest.param(60.0, SHORT_LEASE, id="delay-shorter-than-lease"),
        pytest.param(SHORT_LEASE, 1.0, id="delay-longer-than-lease"),
    ],
)
async def test_acking_a_released_entry_removes_it(harness: Harness, lease: float, delay: float) -> None:
    queue = await harness.open(lease_seconds=lease)
    await queue.put("roads", {"n": 0})
    [entry] = await queue.claim("roads", "worker-a")
    await queue.release("roads", entry.id, delay=delay)

    await queue.ack("roads", entry.id)

    assert (await queue.stats("roads")).depth == 0
    assert await queue.queues() == []
    await asyncio.sleep(delay + 0.15)
    assert await queue.claim("roads", "worker-b") == []


async def test_release_of_an_unclaimed_entry_changes_nothing(harness: Harness) -> None:
    queue = await harness.open()
    entry_id = await queue.put("roads", {"n": 0})

    await queue.release("roads", entry_id, delay=30.0)

    [entry] = await queue.claim("roads", "worker-a")
    assert entry.attempts == 1


async def test_stats_count_every_unacked_entry(harness: Harness) -> None:
    queue = await harness.open()
    empty = await queue.stats("roads")
    assert (empty.depth, empty.oldest_age) == (0, 0.0)

    await queue.put("roads", {"n": 0})
    await asyncio.sleep(0.3)
    await put_numbers(queue, "roads", 2)
    ready = await queue.stats("roads")
    assert ready.depth == 3
    assert ready.oldest_age >= 0.3

    # Leased and delayed entries still count, and so does the age of a delayed oldest entry.
    [oldest, leased] = await queue.claim("roads", "worker-a", count=2)
    await queue.release("roads", oldest.id, delay=120.0)
    busy = await queue.stats("roads")
    assert busy.depth == 3
    assert busy.oldest_age >= 0.3

    await queue.ack("roads", oldest.id)
    await queue.ack("roads", leased.id)
    [last] = await queue.claim("roads", "worker-a")
    await queue.ack("roads", last.id)
    done = await queue.stats("roads")
    assert (done.depth, done.oldest_age) == (0, 0.0)


async def test_queues_lists_queues_with_unacked_entries(harness: Harness) -> None:
    queue = await harness.open()
    assert await queue.queues() == []

    await queue.put("water", {"n": 0})
    await queue.put("roads", {"n": 0})
    await queue.put("roads", {"n": 1})
    assert await queue.queues() == ["roads", "water"]

    [entry] = await queue.claim("water", "worker-a")
    assert await queue.queues() == ["roads", "water"]
    await queue.ack("water", entry.id)
    assert await queue.queues() == ["roads"]


async def test_queues_do_not_see_each_others_entries(harness: Harness) -> None:
    queue = await harness.open()
    await queue.put("roads", {"n": 0, "dept": "roads"})
    await queue.put("water", {"n": 0, "dept": "water"})
    await queue.put("roads", {"n": 1, "dept": "roads"})

    roads = await queue.claim("roads", "worker-a")
    water = await queue.claim("water", "worker-a")

    assert [(e.queue, e.payload["dept"]) for e in roads] == [("roads", "roads")] * 2
    assert [(e.queue, e.payload["dept"]) for e in water] == [("water", "water")]
    assert await queue.claim("lighting", "worker-a") == []
    assert (await queue.stats("roads")).depth == 2
    assert (await queue.stats("water")).depth == 1


async def test_stopping_and_starting_the_consumer_loses_nothing(harness: Harness) -> None:
    before = await harness.open(lease_seconds=SHORT_LEASE)
    await put_numbers(before, "roads", 10)
    stranded = await before.claim("roads", "worker-a", count=4)
    assert numbers(stranded) == [0, 1, 2, 3]
    await harness.stop(before)

    after = await harness.open(lease_seconds=SHORT_LEASE)
    acked: list[int] = []
    fresh = await after.claim("roads", "worker-b", count=100)
    assert numbers(fresh) == [4, 5, 6, 7, 8, 9]
    for entry in fresh:
        await after.ack("roads", entry.id)
        acked.append(entry.payload["n"])
    await asyncio.sleep(PAST_SHORT)
    reclaimed = await after.claim("roads", "worker-b", count=100)
    assert numbers(reclaimed) == [0, 1, 2, 3]
    assert {entry.attempts for entry in reclaimed} == {2}
    for entry in reclaimed:
        await after.ack("roads", entry.id)
        acked.append(entry.payload["n"])

    assert sorted(acked) == list(range(10))
    await asyncio.sleep(PAST_SHORT)
    assert await after.claim("roads", "worker-b", count=100) == []
    assert (await after.stats("roads")).depth == 0


async def test_concurrent_consumers_see_every_entry_exactly_once(harness: Harness) -> None:
    producer = await harness.open()
    await put_numbers(producer, "roads", 50)
    # One queue object (and connection) per consumer, as separate bot processes would have.
    consumers = [await harness.open() for _ in range(4)]

    async def consume(queue: DepartmentQueue, name: str) -> list[int]:
        seen: list[int] = []
        while entries := await queue.claim("roads", name, count=3):
            for entry in entries:
                assert entry.attempts == 1
                seen.append(entry.payload["n"])
                await queue.ack("roads", entry.id)
        return seen

    results = await asyncio.gather(*(consume(queue, f"worker-{i}") for i, queue in enumerate(consumers)))

    every = [n for seen in results for n in seen]
    assert sorted(every) == list(range(50))
    assert await producer.claim("roads", "late-worker") == []
    assert (await producer.stats("roads")).depth == 0


async def test_concurrent_claims_on_one_queue_object_do_not_overlap(harness: Harness) -> None:
    queue = await harness.open()
    await put_numbers(queue, "roads", 50)

    batches = await asyncio.gather(*(queue.claim("roads", f"worker-{i}", count=20) for i in range(4)))

    claimed = [n for batch in batches for n in numbers(batch)]
    assert sorted(claimed) == list(range(50))


async def test_malformed_entry_ids_are_rejected(harness: Harness) -> None:
    queue = await harness.open()
    with pytest.raises(ValueError, match="malformed"):
        await queue.ack("roads", "not-an-id")
    with pytest.raises(ValueError, match="malformed"):
        await queue.release("roads", "not-an-id")


async def test_a_closed_queue_refuses_work(harness: Harness) -> None:
    queue = await harness.open()
    await queue.close()
    with pytest.raises(RuntimeError, match="closed"):
        await queue.put("roads", {"n": 0})


@pytest.mark.redis
async def test_redis_queue_recovers_when_its_stream_is_deleted() -> None:
    url = os.environ.get("SHAGYM_TEST_REDIS_URL")
    if not url:
        pytest.skip("SHAGYM_TEST_REDIS_URL is not set: Redis queue tests need a Redis URL")
    prefix = f"shagym-test-{uuid.uuid4().hex}"
    client = Redis.from_url(url)
    try:
        queue = RedisDepartmentQueue(client, prefix=prefix)
        await queue.put("roads", {"n": 0})
        [entry] = await queue.claim("roads", "worker-a")
        await queue.ack("roads", entry.id)
        # Someone wipes the stream (and with it the consumer group) while the queue object lives on.
        await client.delete(f"{prefix}:queue:roads")
        await queue.put("roads", {"n": 1})

        assert numbers(await queue.claim("roads", "worker-a")) == [1]
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
