"""`shagym run --role`: an ingest process and a deliver process share PostgreSQL and Redis.

Each process reaches the fake Bot API through a proxy of its own, so every request is known to come
from one role: the ingest process polls and stores, and never sends a card; the deliver process sends
the cards, and never calls getUpdates. Together each tagged message is exactly one card.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import fresh_postgres_database, redis_url
from tests.e2e.conftest import CITY_CHAT, RESIDENT, e2e_config
from tests.e2e.test_crash import DEPARTMENT_CHATS, PROBLEMS
from tests.e2e.test_instances import _card_lines, _complaints, _free_port, _migrate, _stop
from tests.fakes.bot_api import FakeBotAPI

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REDIS_DB = "/11"  # a Redis database of its own: the test flushes it
SENDS = {"sendmessage", "sendphoto", "sendmediagroup", "copymessage", "forwardmessage"}


def _redis_db_url() -> str:
    base = redis_url().rsplit("/", 1)[0] if redis_url().count("/") > 2 else redis_url()
    return base + REDIS_DB


class RecordingProxy:
    """The Bot API as one process sees it: forwards every request to the fake and notes each one."""

    def __init__(self, target: str) -> None:
        self._target = target
        self.requests: list[tuple[str, bytes]] = []  # (method, lower case; the raw body)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.url = f"http://127.0.0.1:{_free_port()}"

    async def __aenter__(self) -> RecordingProxy:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = int(self.url.rsplit(":", 1)[1])
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None and self._client is not None
        await self._client.close()
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        body = await request.read()
        self.requests.append((request.path.rsplit("/", 1)[-1].lower(), body))
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._client.request(
            request.method, self._target + request.path_qs, data=body, headers=headers
        ) as reply:
            content_type = reply.headers.get("Content-Type", "application/json")
            return web.Response(
                status=reply.status, body=await reply.read(), headers={"Content-Type": content_type}
            )

    def count(self, method: str) -> int:
        """How many requests of `method` this process made."""
        return sum(name == method.lower() for name, _ in self.requests)

    def department_sends(self) -> int:
        """How many messages this process sent to a department chat (cards, combined messages)."""
        chats = [str(chat).encode() for chat in DEPARTMENT_CHATS]
        return sum(name in SENDS and any(chat in body for chat in chats) for name, body in self.requests)


def _write_config(tmp_path: Path, fake: FakeBotAPI, name: str, api_url: str, database_url: str) -> Path:
    data = e2e_config(tmp_path, fake).model_dump(by_alias=True, mode="json")
    data["telegram"].update({"token": fake.token, "api_url": api_url})
    data["telegram"]["webhook"]["secret_token"] = ""
    data["storage"].update(
        {"database_url": database_url, "redis_url": _redis_db_url(), "queue_lease_seconds": 3}
    )
    data["observability"] = {"enabled": False}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def _start(config: Path, log: Path, *args: str, **env: str) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot.cli", "run", "--config", str(config), *args),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )


async def _flush_redis() -> None:
    client = Redis.from_url(_redis_db_url())
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def _statuses(database_url: str) -> Counter[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT status FROM complaints"))
            return Counter(str(status) for (status,) in rows.tuples())
    finally:
        await engine.dispose()


async def _until_stored(database_url: str, count: int, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (found := (await _statuses(database_url)).total()) < count:
        assert loop.time() < deadline, f"{found} of {count} complaints stored"
        await asyncio.sleep(0.2)


def _inject(fake: FakeBotAPI, numbers: range, sent: dict[str, tuple[int, int]]) -> None:
    for n in numbers:
        marker = f"role-{n:03d}"
        update = fake.inject_message(
            CITY_CHAT, f"@akim_astana {PROBLEMS[n % 3]}, {marker}", from_user=RESIDENT
        )
        sent[marker] = (CITY_CHAT, update["message"]["message_id"])
        if n % 5 == 0:
            fake.inject(update)  # Telegram redelivers: the same update again


async def test_an_ingest_and_a_deliver_process_make_each_message_one_card(tmp_path: Path) -> None:
    await _flush_redis()
    async with (
        fresh_postgres_database() as database_url,
        FakeBotAPI() as fake,
        RecordingProxy(fake.url) as ingest_api,
        RecordingProxy(fake.url) as deliver_api,
    ):
        fake.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        ingest_config = _write_config(tmp_path, fake, "ingest", ingest_api.url, database_url)
        deliver_config = _write_config(tmp_path, fake, "deliver", deliver_api.url, database_url)
        await _migrate(ingest_config)
        log = tmp_path / "bots.log"
        sent: dict[str, tuple[int, int]] = {}
        ingest = await _start(ingest_config, log, "--role", "ingest")
        deliver: asyncio.subprocess.Process | None = None
        try:
            # ingest alone: the messages become queued complaints, and no card goes out
            await fake.wait_for(lambda _: ingest_api.count("getUpdates") > 0, 30)
            _inject(fake, range(5), sent)
            await _until_stored(database_url, 5)
            await asyncio.sleep(2.0)  # time for a card to show, were the ingest process to send one
            assert await _statuses(database_url) == {"queued": 5}
            assert not [call for chat in DEPARTMENT_CHATS for call in fake.calls("sendMessage", chat_id=chat)]
            # the deliver process (its role from the environment) takes the queued complaints over
            deliver = await _start(deliver_config, log, SHAGYM_ROLE="deliver")
            await fake.wait_for(lambda _: len(_card_lines(fake, "role-")) >= 5, 60)
            _inject(fake, range(5, 25), sent)
            await fake.wait_for(lambda _: len(_card_lines(fake, "role-")) >= len(sent), 60)
            await asyncio.sleep(2.0)  # time for any extra card to show
            # deliver alone: the polling lease is free (a clean stop gives it up), and still nobody polls
            await _stop(ingest)
            fake.inject_message(CITY_CHAT, f"@akim_astana {PROBLEMS[0]}, unheard", from_user=RESIDENT)
            await asyncio.sleep(3.0)  # longer than the leader lease: a poller would have taken it over
            assert len(fake.pending_updates) == 1  # never received
        finally:
            await _stop(ingest)
            if deliver is not None:
                await _stop(deliver)
        assert ingest.returncode == 0 and deliver is not None and deliver.returncode == 0, log.read_text()

        # each tagged message is exactly one complaint, and each complaint exactly one card
        complaints = Counter(await _complaints(database_url))
        assert sorted(complaints) == sorted(sent.values())
        assert set(complaints.values()) == {1}
        cards = _card_lines(fake, "role-")
        for marker in sent:
            lines = [line for line in cards if marker in line]
            assert len(lines) == 1 and cards[lines[0]] == 1, (marker, lines)
    # the ingest process polled and sent no card; the deliver process sent the cards and never polled
    assert ingest_api.count("getUpdates") > 0
    assert ingest_api.department_sends() == 0
    assert deliver_api.count("getUpdates") == 0
    assert deliver_api.department_sends() > 0
