"""The Bot API answers 429, 500, 502 and times out for a stretch of requests, getUpdates included: every
tagged message is still exactly one complaint with one card, and the resident hears each change once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.test_desk import file_private
from tests.e2e.test_residents import Resident
from tests.fakes.bot_api import FakeBotAPI
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.support import (
    ENVIRONMENT_CHAT,
    ROADS_CHAT,
    STAFF,
    UTILITIES_CHAT,
    BotProcess,
    all_delivered,
    assert_exactly_once,
    cards,
    complaints,
    eventually,
    inject_tagged,
    migrate,
    said,
    wait_polling,
    write_config,
)

# The bot's HTTP time-out here; a hung request is dropped after it. Short, to keep the test quick, but
# far above a loaded machine's latency: a slow request Telegram did process would be sent again.
REQUEST_TIMEOUT = 5.0


def disrupt(fake: FakeBotAPI, resident: Resident) -> None:
    """A stretch of failures on every path: polling, cards in each department, the resident's chat,
    card edits and button answers."""
    fake.fail_next("getUpdates", error_code=502)
    fake.fail_next("getUpdates", error_code=429, retry_after=1)
    fake.hang_next("getUpdates")
    fake.fail_next("sendMessage", error_code=429, retry_after=1, times=2, chat_id=ROADS_CHAT)
    fake.fail_next("sendMessage", error_code=500, times=2, chat_id=ENVIRONMENT_CHAT)
    fake.hang_next("sendMessage", chat_id=UTILITIES_CHAT)
    fake.fail_next("sendMessage", error_code=502, chat_id=UTILITIES_CHAT)
    for code in (502, 429, 500):
        fake.fail_next("sendMessage", error_code=code, chat_id=resident.id)
    fake.hang_next("sendMessage", chat_id=resident.id)
    fake.fail_next("editMessageText", error_code=502, times=2)
    fake.hang_next("editMessageText")
    fake.fail_next("answerCallbackQuery", error_code=500)


@pytest.mark.parametrize("framework", ["aiogram", "ptb"])
async def test_bot_api_errors_and_time_outs_lose_and_repeat_nothing(
    tmp_path: Path, fake: FakeBotAPI, postgres: PrivatePostgres, redis_server: PrivateRedis, framework: str
) -> None:
    config = write_config(
        tmp_path,
        fake,
        database_url=postgres.url,
        redis_url=redis_server.url,
        framework=framework,
        request_timeout=REQUEST_TIMEOUT,
    )
    await migrate(config)
    bot = BotProcess(config, tmp_path / "bot.log")
    resident = Resident(fake, 730001, language_code="ru")
    sent: dict[int, str] = {}
    await bot.start()
    try:
        await wait_polling(fake)
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        await eventually(
            lambda: any(c.number == number for c in cards(fake)), 30, "the resident's card", bot, fake
        )
        (card,) = [c for c in cards(fake) if c.number == number]

        disrupt(fake, resident)
        staff = fake.user(STAFF, "Staff")
        for n in range(9):
            inject_tagged(fake, sent, n)
        fake.inject_callback(staff, f"d:take:{number}", (card.chat_id, card.message_id))
        for n in range(9, 18):
            inject_tagged(fake, sent, n)
        fake.inject_callback(staff, f"d:rnc:{number}", (card.chat_id, card.message_id))

        await eventually(
            lambda: all_delivered(postgres.url, fake, len(sent)), 120, "every complaint delivered", bot, fake
        )
        await eventually(
            lambda: said(fake, resident, "отмечено как решённое"), 60, "the resolution notice", bot, fake
        )
        await asyncio.sleep(1.0)  # a repeated message in flight would show up now
        assert bot.alive, f"the bot exited under Bot API faults\n{bot.tail()}"
    finally:
        code = await bot.stop()
    assert code == 0, bot.tail()

    rows = await complaints(postgres.url)
    assert_exactly_once(rows, cards(fake), sent)
    assert said(fake, resident, f"№{number} взято в работу") == [
        f"Ваше обращение №{number} взято в работу: Управление энергетики и ЖКХ."
    ]
    assert len(said(fake, resident, f"№{number} отмечено как решённое")) == 1
    assert len(said(fake, resident, f"№{number} принято")) == 1
    (mine,) = [row for row in rows if row.id == number]
    assert mine.status == "resolved"
    # the card edits that failed were queued and done by the department worker
    final = fake.message(card.chat_id, card.message_id)
    assert final is not None and "решено" in str(final["text"]) and not final.get("reply_markup")
    # the faults did happen: every rule was used up, and hung requests left no trace in Telegram
    failed = {(c.method, c.error_code) for c in fake.sent if not c.ok}
    assert {
        ("sendMessage", 429),
        ("sendMessage", 500),
        ("sendMessage", 502),
        ("editMessageText", 502),
    } <= failed
    assert {c.method for c in fake.hung} >= {"getUpdates", "sendMessage", "editMessageText"}
    assert any(r.method == "getUpdates" and r.status in (429, 502) for r in fake.requests)
