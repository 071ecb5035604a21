"""The metrics collector and health check over a real bot's stats, database and queue (no HTTP here)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.app.resources import Resources, prepare_database, sync_directory
from bot.app.runtime import ShagymBot
from bot.classifier.keyword_engine import KeywordClassifier
from bot.config import Config, ConfigError, load_config, parse_config
from bot.ops.latency import LatencyHistogram
from bot.ops.metrics import MetricSources, ShagymCollector
from bot.ops.observability import Observability
from bot.telegram import TelegramBadRequest, TelegramForbidden, TelegramRetryAfter, TelegramTransientError
from storage.db import create_engine, create_session_factory
from tests.conftest import EXAMPLE_CONFIG
from tests.support import InMemoryQueue, RecordingGateway

UTILITIES_CHAT = -1001000000001
CITY_CHAT = -1001999000111
RESIDENT_NAME = "Айгерим"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text page, keyed by (name, sorted labels)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(page: Samples, name: str, **labels: str) -> float:
    return page[(name, tuple(sorted(labels.items())))]


@dataclass
class Harness:
    bot: ShagymBot
    gateway: RecordingGateway
    queue: InMemoryQueue
    resources: Resources
    next_update: int = 1

    def message(self, text: str, *, message_id: int, tag: bool = True) -> dict[str, Any]:
        self.next_update += 1
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": CITY_CHAT, "type": "supergroup", "title": "Астана чат"},
            "from": {"id": 555, "is_bot": False, "first_name": RESIDENT_NAME, "username": "aigerim_k"},
            "text": text,
        }
        if tag:
            offset = len(text[: text.index("@akim_astana")].encode("utf-16-le")) // 2
            message["entities"] = [{"type": "mention", "offset": offset, "length": len("@akim_astana")}]
        return {"update_id": self.next_update, "message": message}

    async def feed(self, *updates: dict[str, Any]) -> None:
        await self.bot.ingestor.ingest(list(updates))
        while await self.bot.processor.run_once():
            pass

    async def deliver(self) -> None:
        for worker in self.bot.workers:
            self.bot.limiter.penalise(worker._department.chat_id, 0)
            await worker.run_once()

    def make_ready(self) -> None:
        """Parked and delayed entries become claimable now."""
        for items in self.queue._items.values():
            for item in items.values():
                item.available_at = 0

    async def scrape(self) -> tuple[str, Samples]:
        await self.bot.observability.collector.refresh()
        text = generate_latest(self.bot.observability.registry).decode()
        return text, samples(text)


def harness_config(**observability: Any) -> Config:
    base = load_config(EXAMPLE_CONFIG, environ={})
    return Config.model_validate(
        base.model_dump(by_alias=True)
        | {
            "classifier": {"engine": "keywords"},
            "telegram": base.telegram.model_dump()
            | {
                "token": "1:x",
                "rate_limit": {
                    "per_chat_per_second": 1000,
                    "per_group_per_minute": 1000,
                    "global_per_second": 1000,
                },
            },
            "observability": {"port": 0, "counts_cache_seconds": 0, **observability},
        }
    )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    config = harness_config()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await prepare_database(engine, str(engine.url))
    queue = InMemoryQueue()
    resources = Resources(config, engine, create_session_factory(engine), queue, None)  # type: ignore[arg-type]
    await sync_directory(resources)
    gateway = RecordingGateway()
    bot = ShagymBot(resources, gateway, KeywordClassifier(config))
    try:
        yield Harness(bot, gateway, queue, resources)
    finally:
        await engine.dispose()


async def test_a_complaint_moves_every_counter_and_gauge(harness: Harness) -> None:
    complaint = "@akim_astana третий день нет отопления, батареи холодные"
    await harness.feed(
        harness.message(complaint, message_id=10),
        harness.message("кто-нибудь знает, когда откроют каток?", message_id=11, tag=False),
    )
    _, page = await harness.scrape()
    assert value(page, "shagym_updates_received_total") == 2
    assert value(page, "shagym_updates_kept_total", kind="message") == 1
    assert value(page, "shagym_updates_kept_total", kind="callback_query") == 0
    assert value(page, "shagym_updates_stored_total") == 1
    assert value(page, "shagym_updates_dropped_total", reason="untagged") == 1
    assert value(page, "shagym_updates_malformed_total") == 0
    assert value(page, "shagym_inbox_processed_total") == 1
    assert value(page, "shagym_inbox_processing_seconds_count") == 1
    assert value(page, "shagym_inbox_rows", status="processed") == 1
    assert value(page, "shagym_inbox_rows", status="pending") == 0
    assert value(page, "shagym_classification_seconds_count") == 1  # the untagged one is never classified
    assert value(page, "shagym_complaints", department="utilities", status="queued") == 1
    assert value(page, "shagym_complaints", department="utilities", status="delivered") == 0
    assert value(page, "shagym_complaints", department="police", status="queued") == 0
    assert value(page, "shagym_queue_depth", department="utilities") == 1
    assert value(page, "shagym_queue_depth", department="police") == 0
    assert value(page, "shagym_queue_oldest_age_seconds", department="utilities") > 0
    assert value(page, "shagym_cards_sent_total") == 0
    assert value(page, "shagym_database_up") == 1 and value(page, "shagym_queue_up") == 1

    await harness.deliver()
    text, page = await harness.scrape()
    assert value(page, "shagym_cards_sent_total") == 1
    assert value(page, "shagym_card_latency_seconds_count") == 1
    assert value(page, "shagym_card_latency_seconds_bucket", le="+Inf") == 1
    assert value(page, "shagym_complaints", department="utilities", status="queued") == 0
    assert value(page, "shagym_complaints", department="utilities", status="delivered") == 1
    assert value(page, "shagym_queue_depth", department="utilities") == 0
    assert value(page, "shagym_queue_oldest_age_seconds", department="utilities") == 0
    # counts and department ids only: nothing a resident wrote or is called
    assert RESIDENT_NAME not in text and "aigerim" not in text and "отопления" not in text


async def test_delivery_errors_are_counted_by_department_and_kind(harness: Harness) -> None:
    errors: list[Exception] = [
        TelegramRetryAfter("Too Many Requests: retry after 1", 1),
        TelegramForbidden("Forbidden: bot was kicked from the supergroup chat"),
        TelegramTransientError("Bad Gateway"),
        TelegramBadRequest("Bad Request: message is too long"),
    ]
    harness.gateway.errors.extend(("sendMessage", UTILITIES_CHAT, error) for error in errors)
    text = "@akim_astana нет воды с утра во всём доме"
    await harness.feed(harness.message(text, message_id=20))
    for _ in errors:
        harness.make_ready()
        await harness.deliver()
    _, page = await harness.scrape()
    for kind in ("rate_limited", "forbidden", "transient", "refused"):
        assert value(page, "shagym_delivery_errors_total", department="utilities", kind=kind) == 1, kind
    assert value(page, "shagym_delivery_errors_total", department="police", kind="forbidden") == 0
    assert value(page, "shagym_cards_sent_total") == 0
    harness.make_ready()
    await harness.deliver()
    _, page = await harness.scrape()
    assert value(page, "shagym_cards_sent_total") == 1
    assert value(page, "shagym_queue_depth", department="utilities") == 0


async def test_complaint_counts_are_cached_between_scrapes(harness: Harness) -> None:
    now = [1000.0]
    bot = harness.bot
    collector = ShagymCollector(
        harness_config(counts_cache_seconds=10),
        MetricSources(bot.ingestor.stats, bot.processor, bot.delivery.stats, bot.intake.classify_seconds),
        harness.resources.unit_of_work,
        harness.queue,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )

    async def queued() -> float:
        await collector.refresh()
        families = {f.name: f for f in collector.collect()}
        by_labels = {tuple(s.labels.values()): s.value for s in families["shagym_complaints"].samples}
        return by_labels[("utilities", "queued")]

    assert await queued() == 0
    text = "@akim_astana нет отопления в подъезде"
    await harness.feed(harness.message(text, message_id=30))
    now[0] += 9
    assert await queued() == 0  # read 9 s ago: still the cached count
    now[0] += 2
    assert await queued() == 1


async def test_health_reports_database_queue_and_inbox(harness: Harness) -> None:
    text = "@akim_astana нет отопления в подъезде"
    await harness.bot.ingestor.ingest([harness.message(text, message_id=40)])
    healthy, body = await harness.bot.observability.health()
    assert healthy
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["queue"] == {"ok": True, "backend": "sql"}
    assert body["inbox"] == {"pending": 1, "failed": 0}
    assert body["uptime_seconds"] >= 0


@dataclass
class Lease:
    name: str
    is_leader: bool


async def test_leadership_of_this_instance_is_shown(harness: Harness) -> None:
    bot = harness.bot
    sources = MetricSources(
        bot.ingestor.stats,
        bot.processor,
        bot.delivery.stats,
        bot.intake.classify_seconds,
        leases=[Lease("polling", True), Lease("delivery", False)],
    )
    observability = Observability(
        bot.config,
        sources,
        harness.resources.unit_of_work,
        harness.queue,  # type: ignore[arg-type]
    )
    _, body = await observability.health()
    assert body["leader"] == {"polling": True, "delivery": False}
    await observability.collector.refresh()
    page = samples(generate_latest(observability.registry).decode())
    assert value(page, "shagym_leader", role="polling") == 1
    assert value(page, "shagym_leader", role="delivery") == 0


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    histogram = LatencyHistogram((0.1, 1.0))
    histogram.observe_many([0.05, 0.1, 0.5, 2.0])
    assert histogram.cumulative() == [(0.1, 2), (1.0, 3), (math.inf, 4)]
    assert histogram.count == 4 and histogram.sum == pytest.approx(2.65)
    with pytest.raises(ValueError):
        LatencyHistogram((1.0, 0.5))


async def test_latencies_are_observed_once_each_and_none_is_lost(harness: Harness) -> None:
    registry = harness.bot.observability.registry
    harness.bot.processor.processing_seconds.observe_many([0.5, 0.5])
    first = samples(generate_latest(registry).decode())
    second = samples(generate_latest(registry).decode())
    assert value(first, "shagym_inbox_processing_seconds_count") == 2
    assert value(second, "shagym_inbox_processing_seconds_count") == 2  # a scrape adds nothing
    # more than the old per-object lists kept (10,000) between two scrapes: every one is counted
    harness.bot.delivery.stats.card_latency.observe_many([2.0] * 12_000)
    page = samples(generate_latest(registry).decode())
    assert value(page, "shagym_card_latency_seconds_count") == 12_000
    assert value(page, "shagym_card_latency_seconds_bucket", le="1.0") == 0
    assert value(page, "shagym_card_latency_seconds_bucket", le="2.5") == 12_000


def test_observability_config_defaults_and_errors() -> None:
    config = parse_config("city: Astana", environ={})
    assert config.observability.enabled
    assert (config.observability.host, config.observability.port) == ("127.0.0.1", 9464)
    with pytest.raises(ConfigError) as error:
        parse_config("city: Astana\nobservability:\n  port: 70000\n  prot: 1\n", environ={})
    located = {issue.key: issue.line for issue in error.value.issues}
    assert located == {"observability.port": 3, "observability.prot": 4}


async def test_notice_outbox_and_combined_messages_are_shown(harness: Harness) -> None:
    bot = harness.bot
    await harness.feed(harness.message("@akim_astana нет отопления в подъезде", message_id=50))
    async with harness.resources.unit_of_work() as uow:
        first = await uow.notices.add(1, "taken")
        second = await uow.notices.add(1, "resolved")
        await uow.session.flush()
        second.status = "failed"
        await uow.commit()
    bot.notices.sent, bot.notices.failures = 3, 2
    await bot.observability.collector.refresh()
    page = samples(generate_latest(bot.observability.registry).decode())
    assert value(page, "shagym_notices_owed", status="pending") == 1
    assert value(page, "shagym_notices_owed", status="failed") == 1
    assert value(page, "shagym_notices_sent_total") == 3
    assert value(page, "shagym_notices_failures_total") == 2
    bot.delivery.stats.combined_messages, bot.delivery.stats.combined_complaints = 2, 7
    page = samples(generate_latest(bot.observability.registry).decode())
    assert value(page, "shagym_combined_messages_total") == 2
    assert value(page, "shagym_combined_complaints_total") == 7
    assert first.id != second.id
