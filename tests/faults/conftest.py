"""Fault-test fixtures: a fake Bot API, and private PostgreSQL and Redis servers the test may stop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.conftest import CITY_CHAT
from tests.fakes.bot_api import FakeBotAPI
from tests.faults.services import PrivatePostgres, PrivateRedis, private_postgres, private_redis


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A running fake Bot API server with the city chat."""
    async with FakeBotAPI() as server:
        server.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        yield server


@pytest.fixture
async def postgres() -> AsyncIterator[PrivatePostgres]:
    """A private PostgreSQL on a spare port, deleted afterwards."""
    server = await private_postgres()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def redis_server() -> AsyncIterator[PrivateRedis]:
    """A private, persistent Redis on a spare port, deleted afterwards."""
    server = await private_redis()
    try:
        yield server
    finally:
        await server.close()
