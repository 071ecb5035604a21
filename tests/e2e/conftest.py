"""End-to-end fixtures: the real bot, over HTTP, against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app.resources import build_resources
from bot.app.runtime import ShagymBot, build_classifier, open_gateway
from bot.config import Config, load_config
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.bot_api import FakeBotAPI

CITY_CHAT = -1001999000111
UTILITIES_CHAT = -1001000000001
ROADS_CHAT = -1001000000002
ENVIRONMENT_CHAT = -1001000000003
ADMIN = 900001
RESIDENT = {"id": 700001, "is_bot": False, "first_name": "Айгерим", "username": "aigerim_k"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A running fake Bot API server."""
    async with FakeBotAPI() as server:
        server.add_chat(CITY_CHAT, type="supergroup", title="Астана | жители")
        yield server


FRAMEWORKS = ("aiogram", "ptb")


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    """The Telegram library under the bot: every test that builds its config through `config_factory`
    runs once on aiogram and once on python-telegram-bot."""
    return str(request.param)


def e2e_config(tmp_path: Path, fake: FakeBotAPI, *, framework: str = "aiogram", **sections: Any) -> Config:
    """The example city pointed at the fake server, on a fresh SQLite file, on the given framework."""
    base = load_config(EXAMPLE_CONFIG, environ={}).model_dump(by_alias=True, mode="json")
    base["telegram"].update(
        {
            "token": fake.token,
            "api_url": fake.url,
            "framework": framework,
            "polling_timeout": 1,
            # the real limiter, with room for a test's handful of messages per chat
            "rate_limit": {"per_chat_per_second": 20, "per_group_per_minute": 600, "global_per_second": 100},
        }
    )
    base["storage"]["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'shagym.db'}"
    # a restarted bot takes over from its killed predecessor within seconds, not the default 15 s
    base["storage"]["leader_lease_seconds"] = 2
    base["classifier"]["engine"] = "keywords"
    # the health and metrics endpoint on any free port: several bots may run at once on this machine
    base["observability"]["port"] = 0
    base["delivery"] = {"park_seconds": 0.5, "max_backoff_seconds": 1}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key].update(value)
        else:
            base[key] = value
    return Config.model_validate(base)


@asynccontextmanager
async def running_bot(config: Config) -> AsyncIterator[ShagymBot]:
    """Run the whole bot until the block ends, then stop it as SIGTERM would."""
    stop = asyncio.Event()
    async with AsyncExitStack() as stack:
        resources = await stack.enter_async_context(build_resources(config))
        gateway = await stack.enter_async_context(open_gateway(config))
        bot = ShagymBot(resources, gateway, await build_classifier(config))
        task = asyncio.create_task(bot.run(stop))
        ready = asyncio.create_task(bot.ready.wait())
        await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # the bot failed to start: show why
        try:
            yield bot
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)


@pytest.fixture
def config_factory(tmp_path: Path, fake: FakeBotAPI, framework: str) -> Callable[..., Config]:
    """Build an e2e config with section overrides, for the test's framework (aiogram or ptb)."""

    def factory(**sections: Any) -> Config:
        return e2e_config(tmp_path, fake, framework=framework, **sections)

    return factory
