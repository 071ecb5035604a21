"""Two bot processes share PostgreSQL and Redis: nothing is processed twice, no digest is sent twice.

Webhook mode: both instances sit behind one URL (a round-robin proxy here, a load balancer in a city's
data centre). Polling mode: only the lease holder polls; when it dies the other takes over.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import fresh_postgres_database, redis_url
from tests.e2e.conftest import CITY_CHAT, RESIDENT, e2e_config
from tests.e2e.test_crash import DEPARTMENT_CHATS, PROBLEMS, start_bot
from tests.fakes.bot_api import FakeBotAPI

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

AKIM_CHAT = 100001
SECRET = "two-instances-secret"
REDIS_PREFIX_DB = "/14"  # a Redis database of its own: the test flushes it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_db_url() -> str:
    base = redis_url().rsplit("/", 1)[0] if redis_url().count("/") > 2 else redis_url()
    return base + REDIS_PREFIX_DB


def _write_config(tmp_path: Path, fake: FakeBotAPI, name: str, database_url: str, **telegram: Any) -> Path:
    config = e2e_config(tmp_path, fake)
    data = config.model_dump(by_alias=True, mode="json")
    data["telegram"]["token"] = fake.token
    data["telegram"].update(telegram)
    data["telegram"]["webhook"]["secret_token"] = SECRET
    data["storage"].update(
        {
            "database_url": database_url,
            "redis_url": _redis_db_url(),
            "queue_lease_seconds": 3,
            "leader_lease_seconds": 2,
        }
    )
    data["observability"] = {"enabled": False}
    # a digest every five seconds, so both instances meet several slots during the test
    for official in data["officials"]:
        if official.get("digest") and official["digest"]["chat_id"] == AKIM_CHAT:
            official["digest"]["schedule"] = "* * * * * */5"
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def _migrate(config: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "migrate", "--config", str(config), stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode()


async def _flush_redis() -> None:
    client = Redis.from_url(_redis_db_url())
    try:
        await client.flushdb()
    finally:
        await client.aclose()


class RoundRobinProxy:
    """One public webhook URL in front of several instances, as a load balancer would be."""

    def __init__(self, backends: list[str]) -> None:
        self._backends = itertools.cycle(backends)
        self.forwarded: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port = _free_port()

    async def __aenter__(self) -> RoundRobinProxy:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None and self._client is not None
        await self._client.close()
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        backend = next(self._backends)
        headers = {
            key: value for key, value in request.headers.items() if key.lower().startswith("x-telegram")
        }
        headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        try:
            async with self._client.post(
                backend + request.path, data=await request.read(), headers=headers
            ) as reply:
                self.forwarded[backend] += 1
                return web.Response(status=reply.status, body=await reply.read())
        except aiohttp.ClientError:
            return web.Response(status=502)  # Telegram retries


def _card_lines(fake: FakeBotAPI, marker: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for chat in DEPARTMENT_CHATS:
        for call in [*fake.calls("sendMessage", chat_id=chat), *fake.calls("sendPhoto", chat_id=chat)]:
            for line in (call.text or "").splitlines():
                if marker in line:
                    seen[line.strip()] += 1
    return seen


async def _complaints(database_url: str) -> list[tuple[int, int]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT chat_id, message_id FROM complaints"))
            return [(int(chat), int(message)) for chat, message in rows.tuples()]
    finally:
        await engine.dispose()


async def _digest_slots(database_url: str) -> list[tuple[str, str, bool]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT slot, owner, finished_at IS NOT NULL FROM job_runs WHERE job = :job"),
                {"job": "digest:official:akim"},
            )
            return [(str(slot), str(owner), bool(done)) for slot, owner, done in rows.tuples()]
    finally:
        await engine.dispose()


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_two_webhook_instances_behind_one_url(tmp_path: Path) -> None:
    await _flush_redis()
    async with fresh_postgres_database() as database_url, FakeBotAPI() as fake:
        fake.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        ports = [_free_port(), _free_port()]
        backends = [f"http://127.0.0.1:{port}" for port in ports]
        async with RoundRobinProxy(backends) as proxy:
            configs = [
                _write_config(
                    tmp_path,
                    fake,
                    f"instance-{n}",
                    database_url,
                    mode="webhook",
                    webhook={
                        "url": f"http://127.0.0.1:{proxy.port}/telegram/webhook",
                        "host": "127.0.0.1",
                        "port": port,
                        "path": "/telegram/webhook",
                    },
                )
                for n, port in enumerate(ports)
            ]
            await _migrate(configs[0])
            log = tmp_path / "bots.log"
            bots = [await start_bot(config, log) for config in configs]
            try:
                await fake.wait_for(lambda _: fake.webhook_url is not None, 30)
                await asyncio.sleep(1.0)  # both instances are up and listening
                sent: dict[str, tuple[int, int]] = {}
                for n in range(30):
                    marker = f"inst-{n:03d}"
                    update = fake.inject_message(
                        CITY_CHAT, f"@akim_astana {PROBLEMS[n % 3]}, {marker}", from_user=RESIDENT
                    )
                    sent[marker] = (CITY_CHAT, update["message"]["message_id"])
                    if n % 5 == 0:
                        fake.inject(update)  # Telegram redelivers: the same update again
                await fake.wait_for(lambda _: len(_card_lines(fake, "inst-")) >= len(sent), 60)
                await asyncio.sleep(6.0)  # a digest slot or two more, and time for any extra card to show
            finally:
                for bot in bots:
                    await _stop(bot)
        for bot in bots:
            assert bot.returncode == 0, log.read_text()

        # both instances took webhook requests
        assert all(proxy.forwarded[backend] > 0 for backend in backends), proxy.forwarded
        # each tagged message is exactly one complaint, and each complaint exactly one card
        complaints = Counter(await _complaints(database_url))
        assert sorted(complaints) == sorted(sent.values())
        assert set(complaints.values()) == {1}
        cards = _card_lines(fake, "inst-")
        for marker in sent:
            lines = [line for line in cards if marker in line]
            assert len(lines) == 1 and cards[lines[0]] == 1, (marker, lines)
        # every digest slot was claimed by one instance and sent once
        slots = await _digest_slots(database_url)
        assert slots and all(done for _, _, done in slots)
        assert len({slot for slot, _, _ in slots}) == len(slots)
        assert len(fake.calls("sendDocument", chat_id=AKIM_CHAT)) == len(slots)


async def test_polling_has_one_leader_and_a_follower_takes_over(tmp_path: Path) -> None:
    await _flush_redis()
    async with fresh_postgres_database() as database_url, FakeBotAPI() as fake:
        fake.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        configs = [_write_config(tmp_path, fake, f"poller-{n}", database_url) for n in range(2)]
        await _migrate(configs[0])
        log = tmp_path / "bots.log"
        first = await start_bot(configs[0], log)
        second: asyncio.subprocess.Process | None = None
        killed_at = float("inf")
        try:
            await fake.wait_for(lambda _: any(r.method == "getUpdates" for r in fake.requests), 30)
            second = await start_bot(configs[1], log)
            await asyncio.sleep(4.0)  # the second instance is up, a follower: it must not poll
            for n in range(10):
                fake.inject_message(
                    CITY_CHAT, f"@akim_astana {PROBLEMS[n % 3]}, poll-{n:03d}", from_user=RESIDENT
                )
            await fake.wait_for(lambda _: len(_card_lines(fake, "poll-")) >= 10, 60)
            # quiet for a moment: this test is about failover, not the send→record window of a card
            # (README, "Delivery guarantee"), which no Bot API client can close
            await asyncio.sleep(1.0)
            killed_at = time.time()
            first.send_signal(signal.SIGKILL)  # the leader dies without giving up its leases
            await first.wait()
            for n in range(10, 20):
                fake.inject_message(
                    CITY_CHAT, f"@akim_astana {PROBLEMS[n % 3]}, poll-{n:03d}", from_user=RESIDENT
                )
            await fake.wait_for(lambda _: len(_card_lines(fake, "poll-")) >= 20, 60)
            await asyncio.sleep(1.0)
        finally:
            await _stop(first)
            if second is not None:
                await _stop(second)
        assert second is not None and second.returncode == 0, log.read_text()

    # while both lived, only the leader polled (after a kill -9 the dead leader's long poll may still be
    # open at Telegram and meet the new leader's once: harmless, the poller retries)
    conflicts = [
        r for r in fake.requests if r.method == "getUpdates" and r.status == 409 and r.time < killed_at
    ]
    assert not conflicts, "two instances polled at once"
    assert sum(r.method == "getUpdates" and r.time > killed_at + 0.5 for r in fake.requests) > 0
    cards = _card_lines(fake, "poll-")
    assert sorted(cards.values()) == [1] * 20, cards
