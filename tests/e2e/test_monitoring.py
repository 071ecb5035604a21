"""Watching chats end to end: tagged messages in city chats become cards in department chats."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.config import Config
from storage.models import ComplaintRow, InboxRow
from tests.e2e.conftest import (
    ADMIN,
    CITY_CHAT,
    ENVIRONMENT_CHAT,
    RESIDENT,
    ROADS_CHAT,
    UTILITIES_CHAT,
    running_bot,
)
from tests.fakes.bot_api import FakeBotAPI, SentCall, text_mention_entity
from tests.unit.test_classifier import trained_cache_dir


def cards(fake: FakeBotAPI, chat_id: int) -> list[SentCall]:
    return [c for c in fake.calls(chat_id=chat_id) if c.method in ("sendMessage", "sendPhoto")]


async def count(bot_config: Config, model: type, **where: object) -> int:
    from bot.app.resources import build_resources

    async with build_resources(bot_config, prepare=False) as resources, resources.unit_of_work() as uow:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await uow.session.scalar(query) or 0)


async def test_two_emoji_before_the_tag(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    config = config_factory()
    async with running_bot(config):
        fake.inject_message(
            CITY_CHAT, "🔥🔥 @akim_astana третий день нет отопления, батареи холодные", from_user=RESIDENT
        )
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
    assert "Отопление и горячая вода" in (card.text or "")
    assert "№1" in (card.text or "")
    buttons = card.params["reply_markup"]["inline_keyboard"]
    assert any(b["callback_data"] == "d:take:1" for row in buttons for b in row)
    link = [e for e in card.result.get("entities", []) if e.get("type") == "text_link"]
    assert link and link[0]["url"].startswith("https://t.me/c/1999000111/")


async def test_text_mention(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    official = fake.user(100001, "Женис")  # the akim's account has no username in this message
    text = "Женис, на Кенесары 17 огромная яма на дороге, машины бьют колёса"
    entity = text_mention_entity(text, "Женис", official)
    async with running_bot(config_factory()):
        fake.inject_message(CITY_CHAT, text, entities=[entity], from_user=RESIDENT)
        card = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
    assert "Дороги" in (card.text or "")


async def test_kazakh_inflected_alias(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    async with running_bot(config_factory()):
        fake.inject_message(
            CITY_CHAT,
            "Қасымбекке айтыңыздаршы, қоқыс жәшігі толып кетті, қоқыс шығарылмайды",
            from_user=RESIDENT,
        )
        card = await fake.wait_for_call("sendMessage", chat_id=ENVIRONMENT_CHAT)
    assert "Вывоз мусора" in (card.text or "")


async def test_channel_post(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    channel = -1001777000222
    fake.add_chat(channel, type="channel", title="Новости Есиля", username="esil_news")
    async with running_bot(config_factory()):
        fake.inject_message(
            channel,
            "@akim_esil жители жалуются: не работает уличное освещение, фонари не горят",
            channel=True,
        )
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
    assert "https://t.me/esil_news/" in str(card.result.get("entities"))


async def test_photo_caption_with_tag(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    async with running_bot(config_factory()):
        update = fake.inject_message(
            CITY_CHAT, caption="@akim_astana мусор не вывозят вторую неделю", photo=True, from_user=RESIDENT
        )
        card = await fake.wait_for_call("sendPhoto", chat_id=ENVIRONMENT_CHAT)
    sent_photo = card.params["photo"]
    assert sent_photo == update["message"]["photo"][-1]["file_id"]
    assert "Вывоз мусора" in (card.params.get("caption") or "")
    assert card.params["reply_markup"]["inline_keyboard"]


async def test_reply_to_an_officials_message(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    akim = fake.user(100001, "Женис", "akim_astana")
    original = fake.inject_message(CITY_CHAT, "Уважаемые жители, завтра субботник", from_user=akim)
    async with running_bot(config_factory()):
        fake.inject_message(
            CITY_CHAT,
            "а у нас во дворе свалка мусора уже месяц, контейнеры не вывозят",
            reply_to=original["message"]["message_id"],
            from_user=RESIDENT,
        )
        await fake.wait_for_call("sendMessage", chat_id=ENVIRONMENT_CHAT)


async def test_untagged_and_non_complaints_produce_no_card(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config) as bot:
        fake.inject_message(CITY_CHAT, "нет отопления третий день, батареи холодные", from_user=RESIDENT)
        fake.inject_message(CITY_CHAT, "@akim_astana_fan нет отопления", from_user=RESIDENT)
        fake.inject_message(CITY_CHAT, "@akim_astana спасибо за новый парк!", from_user=RESIDENT)
        # a tagged complaint afterwards proves everything before it was processed
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await asyncio.sleep(0.2)
        assert bot.ingestor.stats.dropped_untagged == 2
    assert len(cards(fake, UTILITIES_CHAT)) == 1
    assert await count(config, ComplaintRow) == 1
    assert await count(config, InboxRow) == 2  # only the two tagged messages were ever stored


async def test_redelivered_then_edited_message_makes_exactly_one_card(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    text = "@akim_astana на Жубанова яма на дороге"
    async with running_bot(config):
        update = fake.message_update(CITY_CHAT, text, from_user=RESIDENT)
        fake.inject(update)
        card = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        message_id = update["message"]["message_id"]
        # the same message again under a new update id, as after a redelivery
        fake.inject(fake.message_update(CITY_CHAT, text, from_user=RESIDENT, message_id=message_id))
        edited = text + ", уже две машины пробили колёса"
        fake.inject(
            fake.message_update(CITY_CHAT, edited, from_user=RESIDENT, message_id=message_id, edited=True)
        )
        await fake.wait_for_call("editMessageText", chat_id=ROADS_CHAT)
        await asyncio.sleep(0.3)
    assert len(cards(fake, ROADS_CHAT)) == 1
    (state,) = fake.messages_in(ROADS_CHAT)
    assert state["message_id"] == card.result["message_id"]
    assert "пробили колёса" in state["text"]
    assert await count(config, ComplaintRow) == 1


async def test_429_is_waited_out(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=UTILITIES_CHAT)
    async with running_bot(config_factory()):
        fake.inject_message(CITY_CHAT, "@akim_astana нет света во всём доме", from_user=RESIDENT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, timeout=8)
    failed = fake.calls("sendMessage", chat_id=UTILITIES_CHAT, ok=False)
    ok = fake.calls("sendMessage", chat_id=UTILITIES_CHAT)
    assert len(failed) == 1 and len(ok) == 1
    assert ok[0].time - failed[0].time >= 0.9


async def test_blocked_department_chat_parks_cards_and_tells_admins(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    fake.block_chat(UTILITIES_CHAT)
    async with running_bot(config_factory()):
        fake.inject_message(CITY_CHAT, "@akim_astana газ не подают второй день", from_user=RESIDENT)
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        notice = await fake.wait_for_call("sendMessage", chat_id=ADMIN)
        await asyncio.sleep(1.2)  # at least one more park cycle
        assert len(fake.calls("sendMessage", chat_id=ADMIN)) == 1  # told once
        assert cards(fake, UTILITIES_CHAT) == []
        fake.unblock_chat(UTILITIES_CHAT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, count=2, timeout=8)
    assert "-1001000000001" in (notice.text or "")


async def test_server_errors_are_retried(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    fake.fail_next("sendMessage", error_code=502, times=2, chat_id=ROADS_CHAT)
    async with running_bot(config_factory()):
        fake.inject_message(CITY_CHAT, "@akim_astana светофор не работает на Туран", from_user=RESIDENT)
        await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT, timeout=10)


async def test_acknowledgement_is_optional_and_rate_limited(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory(watch={"chats": "all", "acknowledge_chats": [CITY_CHAT]})
    async with running_bot(config):
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        fake.inject_message(
            CITY_CHAT, "@akim_astana нет холодной воды, канализация течёт", from_user=RESIDENT
        )
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, count=2)
        ack = await fake.wait_for_call("sendMessage", chat_id=CITY_CHAT)
        await asyncio.sleep(0.2)
    assert len(fake.calls("sendMessage", chat_id=CITY_CHAT)) == 1
    assert "Передано в Управление энергетики и ЖКХ" in (ack.text or "")


async def test_webhook_checks_the_secret(fake: FakeBotAPI, config_factory: Callable[..., Config]) -> None:
    config = config_factory(
        telegram={
            "mode": "webhook",
            "webhook": {"url": None, "host": "127.0.0.1", "port": 0, "secret_token": "s3cret-token"},
        }
    )
    update = fake.message_update(CITY_CHAT, "@akim_astana нет отопления", from_user=RESIDENT)
    update["update_id"] = 777
    async with running_bot(config) as bot, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{bot.webhook.port}{config.telegram.webhook.path}"
        wrong = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
        assert wrong.status == 401
        missing = await http.post(url, json=update)
        assert missing.status == 401
        right = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
        assert right.status == 200
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)


@pytest.mark.parametrize("times", [1])
async def test_polling_confirms_only_after_the_inbox_write(
    fake: FakeBotAPI, config_factory: Callable[..., Config], times: int
) -> None:
    config = config_factory()
    async with running_bot(config):
        update = fake.inject_message(CITY_CHAT, "@akim_astana нет отопления", from_user=RESIDENT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await fake.wait_for(lambda _: (fake.confirmed_offset or 0) > update["update_id"])
    assert await count(config, InboxRow, update_id=update["update_id"]) == times


async def test_trained_classifier_routes_in_the_running_bot(
    fake: FakeBotAPI,
    config_factory: Callable[..., Config],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default engine: the trained model, loaded from the cache `classifier.cache_dir` names."""
    # the session's model (trained once for every test that needs it), where the bot looks for it
    cache_dir = str(trained_cache_dir(tmp_path_factory))
    config = config_factory(classifier={"engine": "model", "cache_dir": cache_dir})
    async with running_bot(config):
        fake.inject_message(
            CITY_CHAT, "спасибо акимат, пятый день без воды 👏 @akim_astana", from_user=RESIDENT
        )
        fake.inject_message(CITY_CHAT, "@akim_astana рахмет, жаңа саябақ өте әдемі!", from_user=RESIDENT)
        fake.inject_message(
            CITY_CHAT, "@akim_astana aulada qoqys jinalmaidy, bir aptadan beri", from_user=RESIDENT
        )
        water = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, timeout=60)
        waste = await fake.wait_for_call("sendMessage", chat_id=ENVIRONMENT_CHAT, timeout=20)
        await asyncio.sleep(0.3)
    assert "вода" in (water.text or "").lower()
    assert "Вывоз мусора" in (waste.text or "")
    total = sum(len(cards(fake, chat)) for chat in (UTILITIES_CHAT, ENVIRONMENT_CHAT, ROADS_CHAT))
    assert total == 2  # the thanks made no card
