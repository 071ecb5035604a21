"""Department queues on Redis Streams: one stream and consumer group per department."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from storage.base import utcnow
from storage.queues.base import DepartmentQueue, QueueEntry, QueueStats

# Moves parked entries whose delay is over back into the stream. One script, so an entry is never
# both parked and streamed, nor lost, when several consumers (or a crash) interleave.
# KEYS: stream, parked zset, parked data hash. ARGV: how many entries to move at most.
_MOVE_DUE_LUA = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  local data = redis.call('HGET', KEYS[3], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  if data then
    local entry = cjson.decode(data)
    redis.call('XADD', KEYS[1], '*', 'payload', entry.payload, 'enqueued_at', entry.enqueued_at,
      'attempts', entry.attempts)
  end
end
return #due
"""

# Gives a pending entry back. A delay shorter than the lease keeps the entry pending (same id, same
# place in the stream) and backdates its delivery so XAUTOCLAIM takes it once the delay is over.
# A longer delay cannot be expressed that way (Redis clamps delivery times to now), so the entry is
# acked, deleted and parked in a sorted set scored by its ready time, with its data and attempts.
# Server time scores the set, so consumers with skewed clocks agree on when an entry is due.
# KEYS: stream, parked zset, parked data hash. ARGV: group, entry id, delay ms, lease ms.
_RELEASE_LUA = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then
  return 0
end
local delay = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
if delay < lease then
  redis.call('XCLAIM', KEYS[1], ARGV[1], pending[1][2], 0, ARGV[2], 'IDLE', lease - delay, 'JUSTID')
  return 1
end
local rows = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if #rows == 0 then
  return 0
end
local attempts = pending[1][4]
local entry = {}
local fields = rows[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'attempts' then
    attempts = attempts + tonumber(fields[i + 1])
  else
    entry[fields[i]] = fields[i + 1]
  end
end
entry.attempts = tostring(attempts)
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[2], now_ms + delay, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode(entry))
return 2
"""

# Bounds the work of one claim: parked entries moved per call, XAUTOCLAIM pages scanned per call.
_MOVE_LIMIT = 500
_RECLAIM_ROUNDS = 4

_STREAM_ID = re.compile(r"\d+-\d+")


def _text(value: bytes | str) -> str:
    """A reply value as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else value


def _fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    """Stream entry fields as text."""
    return {_text(key): _text(value) for key, value in raw.items()}


def _check_id(entry_id: str) -> None:
    """Reject ids this queue never issued, before Redis rejects them with a less helpful error."""
    if not _STREAM_ID.fullmatch(entry_id):
        raise ValueError(f"malformed queue entry id: {entry_id!r}")


def _enqueued_at(entry_id: str, fields: Mapping[str, str]) -> datetime:
    """When the entry was put: its `enqueued_at` field, else the time in its stream id."""
    value = fields.get("enqueued_at")
    if value:
        return datetime.fromisoformat(value).astimezone(UTC)
    return datetime.fromtimestamp(int(entry_id.split("-", 1)[0]) / 1000, UTC)


def _payload(fields: Mapping[str, str]) -> dict[str, Any]:
    """The entry's payload, decoded from its JSON field."""
    payload = json.loads(fields["payload"])
    if not isinstance(payload, dict):
        raise ValueError("queue entry payload is not a JSON object")
    return payload


class RedisDepartmentQueue(DepartmentQueue):
    """Department queues on Redis Streams with a consumer group, for several bot processes.

    Entries live in `{prefix}:queue:{queue}`; entries released for longer than the lease are parked
    in `{prefix}:delayed:{queue}` (ready times) and `{prefix}:delayed-data:{queue}` (their data) and
    come back under a new id. `{prefix}:queues` names every queue ever used.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "shagym",
        lease_seconds: float = 60.0,
        group: str = "delivery",
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._redis = redis
        self._prefix = prefix
        self._group = group
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._groups: set[str] = set()
        # Where the next XAUTOCLAIM scan of each queue's pending list resumes, as Redis suggests.
        self._cursors: dict[str, str] = {}
        self._move_due = redis.register_script(_MOVE_DUE_LUA)
        self._release = redis.register_script(_RELEASE_LUA)
        self._closed = False

    def _stream(self, queue: str) -> str:
        return f"{self._prefix}:queue:{queue}"

    def _parked(self, queue: str) -> tuple[str, str]:
        return f"{self._prefix}:delayed:{queue}", f"{self._prefix}:delayed-data:{queue}"

    @property
    def _queues_key(self) -> str:
        return f"{self._prefix}:queues"

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("department queue is closed")

    async def _ensure_group(self, queue: str) -> None:
        """Create the queue's consumer group once; from id 0 so entries put before it are delivered."""
        if queue in self._groups:
            return
        try:
            await self._redis.xgroup_create(self._stream(queue), self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(queue)

    async def put(self, queue: str, payload: dict[str, Any]) -> str:
        """Append `payload` to `queue` and return the new entry's id."""
        self._check_open()
        fields: dict[FieldT, EncodableT] = {
            "payload": json.dumps(payload, separators=(",", ":")),
            "enqueued_at": utcnow().isoformat(),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._stream(queue), fields)
            pipe.sadd(self._queues_key, queue)
            entry_id, _ = await pipe.execute()
        return _text(entry_id)

    async def claim(self, queue: str, consumer: str, *, count: int = 10) -> list[QueueEntry]:
        """Lease up to `count` ready entries to `consumer`, oldest first; never waits for new ones."""
        self._check_open()
        if count <= 0:
            return []
        try:
            return await self._claim(queue, consumer, count)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream was deleted under us (FLUSHDB, manual cleanup): recreate the group once.
            self._groups.discard(queue)
            self._cursors.pop(queue, None)
            return await self._claim(queue, consumer, count)

    async def _claim(self, queue: str, consumer: str, count: int) -> list[QueueEntry]:
        await self._ensure_group(queue)
        stream = self._stream(queue)
        await self._move_due(keys=[stream, *self._parked(queue)], args=[_MOVE_LIMIT])
        # Entries whose lease ran out go first: they are older than anything not yet delivered.
        entries = await self._reclaim(queue, consumer, count)
        if len(entries) < count:
            reply: Any = await self._redis.xreadgroup(
                self._group, consumer, {stream: ">"}, count=count - len(entries)
            )
            for _stream_name, messages in reply or []:
                for raw_id, raw_fields in messages:
                    entry_id, fields = _text(raw_id), _fields(raw_fields)
                    entries.append(self._entry(queue, entry_id, fields, delivered=1))
        return entries

    async def _reclaim(self, queue: str, consumer: str, count: int) -> list[QueueEntry]:
        """Take over entries idle longer than the lease, e.g. those of a consumer that died."""
        stream = self._stream(queue)
        start = self._cursors.get(queue, "0-0")
        found: list[tuple[str, dict[str, str]]] = []
        for _ in range(_RECLAIM_ROUNDS):
            reply: Any = await self._redis.xautoclaim(
                stream, self._group, consumer, self._lease_ms, start_id=start, count=count - len(found)
            )
            start = _text(reply[0])
            # Redis 6.2 reports entries deleted while pending as empty slots; skip them.
            found.extend((_text(raw_id), _fields(raw)) for raw_id, raw in reply[1] if raw_id is not None)
            if start == "0-0" or len(found) >= count:
                break
        self._cursors[queue] = start
        if not found:
            return []
        # XAUTOCLAIM does not report delivery counts; ask for each claimed entry in one round trip.
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in found:
                pipe.xpending_range(stream, self._group, entry_id, entry_id, 1)
            pending: list[Any] = await pipe.execute()
        return [
            self._entry(queue, entry_id, fields, delivered=int(info[0]["times_delivered"]) if info else 1)
            for (entry_id, fields), info in zip(found, pending, strict=True)
        ]

    def _entry(self, queue: str, entry_id: str, fields: Mapping[str, str], *, delivered: int) -> QueueEntry:
        # Entries back from parking carry the attempts of their earlier stream ids.
        attempts = int(fields.get("attempts", "0")) + delivered
        return QueueEntry(
            id=entry_id,
            queue=queue,
            payload=_payload(fields),
            attempts=attempts,
            enqueued_at=_enqueued_at(entry_id, fields),
        )

    async def ack(self, queue: str, entry_id: str) -> None:
        """Remove a processed entry for good; acking an unknown or already acked entry does nothing."""
        self._check_open()
        _check_id(entry_id)
        stream = self._stream(queue)
        parked, parked_data = self._parked(queue)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, self._group, entry_id)
            pipe.xdel(stream, entry_id)
            # The entry may have been parked by release(); acking it then drops it as well.
            pipe.zrem(parked, entry_id)
            pipe.hdel(parked_data, entry_id)
            await pipe.execute()

    async def ack_many(self, queue: str, entry_ids: Sequence[str]) -> None:
        """Ack several entries in one round trip, as `ack` does each; an empty list does nothing."""
        self._check_open()
        ids = list(dict.fromkeys(entry_ids))
        for entry_id in ids:
            _check_id(entry_id)
        if not ids:
            return
        stream = self._stream(queue)
        parked, parked_data = self._parked(queue)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, self._group, *ids)
            pipe.xdel(stream, *ids)
            # Some may have been parked by release(); acking them then drops them as well.
            pipe.zrem(parked, *ids)
            pipe.hdel(parked_data, *ids)
            await pipe.execute()

    async def release(self, queue: str, entry_id: str, *, delay: float = 0.0) -> None:
        """Give a leased entry back without acking; it becomes claimable again after `delay` seconds."""
        self._check_open()
        _check_id(entry_id)
        delay_ms = max(0, round(delay * 1000))
        try:
            await self._release(
                keys=[self._stream(queue), *self._parked(queue)],
                args=[self._group, entry_id, delay_ms, self._lease_ms],
            )
        except ResponseError as exc:
            # Without a group nothing of this queue was ever claimed, so there is nothing to give back.
            if "NOGROUP" not in str(exc):
                raise

    async def stats(self, queue: str) -> QueueStats:
        """Depth and age of the oldest un-acked entry of `queue`.

        The age looks at the head of the stream and at parked entries; an entry that came back from
        parking sits behind newer ones, so while it waits there the age may read a little low.
        """
        self._check_open()
        stream = self._stream(queue)
        parked, parked_data = self._parked(queue)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xlen(stream)
            pipe.zcard(parked)
            pipe.xrange(stream, count=1)
            pipe.hvals(parked_data)
            length, parked_count, head, parked_values = await pipe.execute()
        depth = int(length) + int(parked_count)
        if depth == 0:
            return QueueStats(depth=0, oldest_age=0.0)
        times = [_enqueued_at(_text(raw_id), _fields(raw)) for raw_id, raw in head]
        times.extend(_enqueued_at("0-0", json.loads(_text(value))) for value in parked_values)
        if not times:
            return QueueStats(depth=depth, oldest_age=0.0)
        return QueueStats(depth=depth, oldest_age=max((utcnow() - min(times)).total_seconds(), 0.0))

    async def queues(self) -> list[str]:
        """Names of the queues that have un-acked entries, sorted."""
        self._check_open()
        # redis-py types smembers as "set or awaitable of set" for both clients, which mypy cannot await.
        members: Any = await self._redis.smembers(self._queues_key)  # type: ignore[misc]
        names = sorted(_text(name) for name in members)
        if not names:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xlen(self._stream(name))
                pipe.zcard(self._parked(name)[0])
            sizes: list[int] = await pipe.execute()
        return [name for i, name in enumerate(names) if sizes[2 * i] + sizes[2 * i + 1] > 0]

    async def close(self) -> None:
        """Stop using the queue; the Redis client belongs to the caller and stays open."""
        self._closed = True
