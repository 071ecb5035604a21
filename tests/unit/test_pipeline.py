"""Use cases with in-memory ports: intake, inbox processing and card delivery policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.resources import Resources, prepare_database, sync_directory
from bot.app.runtime import ShagymBot
from bot.classifier.keyword_engine import KeywordClassifier
from bot.config import Config, DeliveryConfig, RateLimitConfig, load_config
from bot.telegram import TelegramForbidden, TelegramRetryAfter, TelegramTransientError
from bot.telegram.ratelimit import RateLimiter
from storage.db import create_engine, create_session_factory
from storage.models import ComplaintRow, InboxRow
from tests.conftest import EXAMPLE_CONFIG
from tests.support import InMemoryQueue, RecordingGateway

UTILITIES_CHAT = -1001000000001
UTILITIES_HEAD = 200001
CITY_CHAT = -1001999000111


@dataclass
class Harness:
    bot: ShagymBot
    gateway: RecordingGateway
    queue: InMemoryQueue
    resources: Resources
    next_update: int = 1

    def update(
        self,
        text: str,
        *,
        message_id: int,
        chat_id: int = CITY_CHAT,
        edited: bool = False,
        entities: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        kind = "edited_message" if edited else "message"
        message = {
            "message_id": message_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "supergroup", "title": "Астана чат"},
            "from": {"id": 555, "is_bot": False, "first_name": "Айгерим"},
            "text": text,
            **extra,
        }
        if entities is not None:
            message["entities"] = entities
        self.next_update += 1
        return {"update_id": self.next_update, kind: message}

    async def feed(self, *updates: dict[str, Any]) -> None:
        await self.bot.ingestor.ingest(list(updates))
        while await self.bot.processor.run_once():
            pass

    async def deliver(self) -> int:
        total = 0
        for worker in self.bot.workers:
            total += await worker.run_once()
        return total

    async def complaints(self) -> list[ComplaintRow]:
        async with self.resources.unit_of_work() as uow:
            return list((await uow.session.scalars(select(ComplaintRow).order_by(ComplaintRow.id))).all())


def mention(text: str, username: str = "@akim_astana") -> list[dict[str, Any]]:
    offset = len(text[: text.index(username)].encode("utf-16-le")) // 2
    return [{"type": "mention", "offset": offset, "length": len(username)}]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    base = load_config(EXAMPLE_CONFIG, environ={})
    config = Config.model_validate(
        base.model_dump(by_alias=True)
        | {
            "classifier": {"engine": "keywords"},
            "watch": {"chats": "all", "acknowledge_chats": [CITY_CHAT], "acknowledge_interval_seconds": 60},
            # generous limits: the budget test below installs Telegram's real ones
            "telegram": base.telegram.model_dump()
            | {
                "token": "1:x",
                "rate_limit": {
                    "per_chat_per_second": 1000,
                    "per_group_per_minute": 1000,
                    "global_per_second": 1000,
                },
            },
        }
    )
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


async def test_tagged_complaint_becomes_one_card(harness: Harness) -> None:
    text = "🔥🔥 @akim_astana третий день нет отопления в Сарыарке, батареи холодные"
    await harness.feed(harness.update(text, message_id=10, entities=mention(text)))
    (complaint,) = await harness.complaints()
    assert (complaint.category, complaint.department_id, complaint.status) == (
        "heating",
        "utilities",
        "queued",
    )
    assert complaint.district == "saryarka"
    assert complaint.officials == ["akim"]
    assert await harness.deliver() == 1
    (card,) = harness.gateway.sent_to(UTILITIES_CHAT)
    assert "№1" in card.params["text"] and "Отопление" in card.params["text"]
    assert card.params["keyboard"] is not None
    (complaint,) = await harness.complaints()
    assert complaint.status == "delivered" and complaint.card_message_id == 1
    # the source chat got one acknowledgement, as a reply
    (ack,) = harness.gateway.sent_to(CITY_CHAT)
    assert ack.params["reply_to"] == 10 and "№1" in ack.params["text"]


async def test_untagged_chatter_is_never_stored(harness: Harness) -> None:
    await harness.feed(harness.update("нет отопления третий день", message_id=11))
    async with harness.resources.unit_of_work() as uow:
        assert (await uow.session.scalars(select(InboxRow))).all() == []
    assert harness.bot.ingestor.stats.dropped_untagged == 1


async def test_redelivered_and_edited_message_makes_one_card(harness: Harness) -> None:
    text = "@akim_astana яма на дороге на Кенесары 17"
    first = harness.update(text, message_id=20, entities=mention(text))
    await harness.feed(first, first)  # Telegram redelivers the same update
    again = harness.update(text, message_id=20, entities=mention(text))  # a second update id, same message
    await harness.feed(again)
    await harness.deliver()
    edited_text = text + " — машина пробила колесо"
    await harness.feed(harness.update(edited_text, message_id=20, edited=True, entities=mention(edited_text)))
    await harness.deliver()
    (complaint,) = await harness.complaints()
    assert complaint.text == edited_text
    cards = harness.gateway.sent_to(-1001000000002)
    assert [c.method for c in cards] == ["sendMessage", "editMessageText"]
    assert "пробила колесо" in cards[1].params["text"]


async def test_non_complaint_produces_no_card(harness: Harness) -> None:
    text = "@akim_astana спасибо за новый парк!"
    await harness.feed(harness.update(text, message_id=30, entities=mention(text)))
    assert await harness.complaints() == []
    assert await harness.deliver() == 0


async def test_cards_wait_on_the_queue_when_the_chat_budget_is_spent(harness: Harness) -> None:
    telegram_limits = RateLimiter(RateLimitConfig())
    # combining off: each card waits its turn (tests/unit/test_combined.py covers combined messages)
    single_cards = harness.bot.config.model_copy(update={"delivery": DeliveryConfig(combine_min=0)})
    for worker in harness.bot.workers:
        worker._limiter = telegram_limits
        worker._config = single_cards
    for n in range(4):
        text = f"@akim_astana нет горячей воды, дом {n}"
        await harness.feed(harness.update(text, message_id=40 + n, entities=mention(text)))
    await harness.deliver()
    assert len(harness.gateway.sent_to(UTILITIES_CHAT)) == 1
    stats = await harness.queue.stats("utilities")
    assert stats.depth == 3
    assert harness.bot.delivery.stats.deferred >= 3


async def test_429_waits_retry_after_and_loses_nothing(harness: Harness) -> None:
    harness.gateway.errors.append(
        ("sendMessage", UTILITIES_CHAT, TelegramRetryAfter("Too Many Requests", 0.0))
    )
    text = "@akim_astana нет света на улице"
    await harness.feed(harness.update(text, message_id=50, entities=mention(text)))
    await harness.deliver()
    assert harness.gateway.sent_to(UTILITIES_CHAT) == []
    (complaint,) = await harness.complaints()
    assert complaint.card_state is None and complaint.status == "queued"
    harness.bot.limiter.penalise(UTILITIES_CHAT, 0)
    await harness.deliver()
    assert len(harness.gateway.sent_to(UTILITIES_CHAT)) == 1


async def test_forbidden_chat_parks_cards_and_tells_admins_once(harness: Harness) -> None:
    for n in range(2):
        harness.gateway.errors.append(
            ("sendMessage", UTILITIES_CHAT, TelegramForbidden("Forbidden: bot was kicked"))
        )
        text = f"@akim_astana газ не подают {n}"
        await harness.feed(harness.update(text, message_id=60 + n, entities=mention(text)))
        harness.bot.limiter.penalise(UTILITIES_CHAT, 0)
        await harness.deliver()
    assert (await harness.queue.stats("utilities")).depth == 2  # still queued, parked
    notices = harness.gateway.sent_to(900001)
    assert len(notices) == 1 and "-1001000000001" in notices[0].params["text"]


async def test_transient_error_is_retried(harness: Harness) -> None:
    harness.gateway.errors.append(("sendMessage", -1001000000003, TelegramTransientError("Bad Gateway")))
    text = "@akim_astana мусор не вывозят неделю"
    await harness.feed(harness.update(text, message_id=70, entities=mention(text)))
    await harness.deliver()
    assert (await harness.queue.stats("city_environment")).depth == 1
    for item in harness.queue._items["city_environment"].values():
        item.available_at = 0
    await harness.deliver()
    assert len(harness.gateway.sent_to(-1001000000003)) == 1


async def test_urgent_complaint_also_reaches_the_head(harness: Harness) -> None:
    text = "@akim_astana запах газа в подъезде, Кенесары 17!"
    await harness.feed(harness.update(text, message_id=80, entities=mention(text)))
    await harness.deliver()
    (complaint,) = await harness.complaints()
    assert complaint.urgent
    (head_notice,) = harness.gateway.sent_to(UTILITIES_HEAD)
    assert "№" in head_notice.params["text"]


async def test_complaint_left_unqueued_by_a_crash_is_swept(harness: Harness) -> None:
    text = "@akim_astana нет воды"
    await harness.bot.ingestor.ingest([harness.update(text, message_id=90, entities=mention(text))])
    # simulate a crash right after the complaint was stored: drop its queue entry
    while await harness.bot.processor.run_once():
        pass
    harness.queue._items.clear()
    async with harness.resources.unit_of_work() as uow:
        row = (await uow.session.scalars(select(ComplaintRow))).one()
        row.status = "new"
        await uow.commit()
    assert await harness.bot.enqueuer.sweep_new() == 1
    await harness.deliver()
    assert len(harness.gateway.sent_to(UTILITIES_CHAT)) == 1


async def test_acknowledgements_are_rate_limited_per_chat(harness: Harness) -> None:
    for n in range(3):
        text = f"@akim_astana нет света, дом {n}"
        await harness.feed(harness.update(text, message_id=100 + n, entities=mention(text)))
    assert len(harness.gateway.sent_to(CITY_CHAT)) == 1


async def test_malformed_update_is_kept_and_parked(harness: Harness) -> None:
    await harness.feed({"update_id": 999, "message": {"message_id": "x", "chat": {"id": "bad"}}})
    async with harness.resources.unit_of_work() as uow:
        (row,) = (await uow.session.scalars(select(InboxRow))).all()
    assert row.kind == "malformed" and row.status == "failed"
    assert row.payload["update_id"] == 999
