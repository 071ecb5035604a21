"""Health and metrics end to end: /healthz and /metrics of the running bot over HTTP, and failing checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.app.resources import build_resources
from bot.app.runtime import ShagymBot, build_classifier, open_gateway
from bot.config import Config
from tests.conftest import redis_url
from tests.e2e.conftest import CITY_CHAT, RESIDENT, UTILITIES_CHAT, e2e_config, running_bot
from tests.fakes.bot_api import FakeBotAPI

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int) -> tuple[str, Samples]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = await reply.text()
    page: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            page[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, page


def value(page: Samples, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), float("nan"))


Expected = dict[str, float]  # "name" or "name{label=value,...}" -> value
POSITIVE = -1.0  # expects any value above 0 (no sample here is ever negative)


def mismatches(page: Samples, expected: Expected) -> list[str]:
    """The expected samples the page does not show (missing, or another value)."""
    out = []
    for key, want in expected.items():
        name, _, rest = key.partition("{")
        labels = dict(pair.split("=", 1) for pair in rest.rstrip("}").split(",") if pair)
        got = value(page, name, **labels)
        if not (got > 0 if want == POSITIVE else got == want):
            out.append(f"{key}: {got}, expected {'> 0' if want == POSITIVE else want}")
    return out


async def scrape_until(port: int, expected: Expected, timeout: float = 10.0) -> Samples:
    """Scrape until the page shows every expected sample: the bot works concurrently, and a counter
    moves a few awaits after the database commit it follows. Fails listing what never matched."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text, page = await scrape(port)
        missing = mismatches(page, expected)
        if not missing:
            return page
        if loop.time() > deadline:
            raise AssertionError("metrics never showed:\n  " + "\n  ".join(missing) + f"\n\n{text}")
        await asyncio.sleep(0.05)


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as reply:
        return reply.status, await reply.json()


async def test_metrics_follow_a_complaint_through_the_running_bot(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory(observability={"counts_cache_seconds": 0})
    fake.block_chat(UTILITIES_CHAT)  # the card waits on the queue first, visible in the metrics
    async with running_bot(config) as bot:
        port = bot.observability.port
        assert port is not None and port != 9464  # port 0 in the e2e config: a free port
        fake.inject_message(
            CITY_CHAT, "кто-нибудь знает, когда откроют каток на набережной?", from_user=RESIDENT
        )
        fake.inject_message(
            CITY_CHAT, "@akim_astana третий день нет отопления, батареи холодные", from_user=RESIDENT
        )
        page = await scrape_until(
            port,
            {
                "shagym_updates_received_total": 2,
                "shagym_updates_dropped_total{reason=untagged}": 1,
                "shagym_updates_kept_total{kind=message}": 1,
                "shagym_updates_kept_total{kind=callback_query}": 0,
                "shagym_updates_stored_total": 1,
                "shagym_classification_seconds_count": 1,  # the untagged message is never classified
                "shagym_complaints{department=utilities,status=queued}": 1,
                "shagym_complaints{department=utilities,status=delivered}": 0,
                "shagym_queue_depth{department=utilities}": 1,
                "shagym_queue_depth{department=police}": 0,
                "shagym_queue_oldest_age_seconds{department=utilities}": POSITIVE,
                "shagym_delivery_errors_total{department=utilities,kind=forbidden}": POSITIVE,
                "shagym_delivery_errors_total{department=utilities,kind=refused}": 0,
                "shagym_cards_sent_total": 0,
            },
        )
        framework = config.telegram.framework
        (info,) = [dict(labels) for name, labels in page if name == "shagym_info"]
        assert info | {"version": ""} == {
            "version": "",
            "framework": framework,
            "mode": "polling",
            "queue": "sql",
        }

        fake.unblock_chat(UTILITIES_CHAT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await scrape_until(
            port,
            {
                "shagym_complaints{department=utilities,status=queued}": 0,
                "shagym_complaints{department=utilities,status=delivered}": 1,
                "shagym_cards_sent_total": 1,
                "shagym_card_latency_seconds_count": 1,
                "shagym_queue_depth{department=utilities}": 0,
                "shagym_queue_oldest_age_seconds{department=utilities}": 0,
                "shagym_inbox_processed_total": 1,
                "shagym_inbox_rows{status=processed}": 1,
                "shagym_database_up": 1,
                "shagym_queue_up": 1,
                "process_resident_memory_bytes": POSITIVE,
                "shagym_leader{role=polling}": 1,  # the only instance leads both
                "shagym_leader{role=delivery}": 1,
            },
        )
        status, health = await healthz(port)
        text, _ = await scrape(port)
    assert status == 200
    assert health["status"] == "ok"
    assert health["checks"]["database"]["ok"] and health["checks"]["queue"]["ok"]
    assert health["inbox"] == {"pending": 0, "failed": 0}
    assert health["framework"] == framework
    assert health["leader"] == {"polling": True, "delivery": True}
    for body in (text, str(health)):
        assert fake.token not in body
        assert RESIDENT["first_name"] not in body and RESIDENT["username"] not in body
        assert "отопления" not in body


@asynccontextmanager
async def endpoint_of_a_stopped_bot(config: Config) -> AsyncIterator[ShagymBot]:
    """A bot built on `config` whose health and metrics endpoint listens, without its workers running
    (they would stop the bot on the database errors these tests cause on purpose)."""
    async with AsyncExitStack() as stack:
        resources = await stack.enter_async_context(build_resources(config))
        gateway = await stack.enter_async_context(open_gateway(config))
        bot = ShagymBot(resources, gateway, await build_classifier(config))
        await bot.observability.start()
        stack.push_async_callback(bot.observability.stop)
        yield bot


async def test_healthz_fails_while_the_database_is_unreachable(tmp_path: Path, fake: FakeBotAPI) -> None:
    data = tmp_path / "data"
    config = e2e_config(
        tmp_path,
        fake,
        storage={"database_url": f"sqlite+aiosqlite:///{data / 'shagym.db'}"},
        observability={"check_timeout_seconds": 5},
    )
    async with endpoint_of_a_stopped_bot(config) as bot:
        port = bot.observability.port
        assert port is not None
        status, health = await healthz(port)
        assert status == 200, health
        # the database file's folder disappears (a lost volume): no new connection can open it
        await bot.resources.engine.dispose()
        data.rename(tmp_path / "elsewhere")
        status, health = await healthz(port)
        assert status == 503
        assert health["status"] == "failing"
        assert health["checks"]["database"] == {"ok": False, "error": "OperationalError"}
        assert health["checks"]["queue"]["ok"] is False  # the SQL queue lives in the same database
        assert health["inbox"] is None
        _, page = await scrape(port)  # /metrics still answers, and says what is down
        assert value(page, "shagym_database_up") == 0 and value(page, "shagym_queue_up") == 0
        assert ("shagym_complaints", (("department", "utilities"), ("status", "new"))) not in page
        assert value(page, "shagym_updates_received_total") == 0
        (tmp_path / "elsewhere").rename(data)
        status, health = await healthz(port)
        assert status == 200, health


async def test_healthz_fails_while_redis_is_unreachable(tmp_path: Path, fake: FakeBotAPI) -> None:
    # nothing listens on port 1: every Redis command fails, the database is fine
    config = e2e_config(
        tmp_path,
        fake,
        storage={"redis_url": "redis://127.0.0.1:1/0"},
        observability={"check_timeout_seconds": 1},
    )
    async with endpoint_of_a_stopped_bot(config) as bot:
        assert bot.observability.port is not None
        status, health = await healthz(bot.observability.port)
    assert status == 503
    assert health["checks"]["database"] == {"ok": True}
    assert health["checks"]["queue"]["ok"] is False
    assert health["checks"]["queue"]["backend"] == "redis"
    assert health["inbox"] == {"pending": 0, "failed": 0}


async def test_healthz_and_queue_metrics_on_redis(tmp_path: Path, fake: FakeBotAPI) -> None:
    config = e2e_config(tmp_path, fake, storage={"redis_url": redis_url()})
    async with endpoint_of_a_stopped_bot(config) as bot:
        port = bot.observability.port
        assert port is not None
        status, health = await healthz(port)
        _, page = await scrape(port)
    assert status == 200, health
    assert health["checks"]["queue"] == {"ok": True, "backend": "redis"}
    assert value(page, "shagym_queue_up") == 1
    assert value(page, "shagym_queue_depth", department="utilities") >= 0  # present; Redis is shared
    (info,) = [dict(labels) for name, labels in page if name == "shagym_info"]
    assert info["queue"] == "redis"
