"""PostgreSQL or Redis goes away in the middle of a burst and comes back: the bot rides it out, and
every tagged message is exactly one complaint with exactly one card."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.test_desk import file_private
from tests.e2e.test_residents import Resident
from tests.fakes.bot_api import FakeBotAPI
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.support import (
    STAFF,
    UTILITIES_CHAT,
    BotProcess,
    all_delivered,
    assert_exactly_once,
    cards,
    complaints,
    eventually,
    in_flight,
    inject_tagged,
    migrate,
    said,
    wait_polling,
    write_config,
)

OUTAGE_SECONDS = 4.0  # how long the service stays down (the fault, not a speed expectation)


@pytest.mark.parametrize("service", ["postgres", "redis"])
async def test_a_service_outage_mid_burst_loses_and_repeats_nothing(
    tmp_path: Path, fake: FakeBotAPI, postgres: PrivatePostgres, redis_server: PrivateRedis, service: str
) -> None:
    config = write_config(tmp_path, fake, database_url=postgres.url, redis_url=redis_server.url)
    await migrate(config)
    bot = BotProcess(config, tmp_path / "bot.log")
    resident = Resident(fake, 740001, language_code="ru")
    sent: dict[int, str] = {}
    await bot.start()
    try:
        await wait_polling(fake)
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        for n in range(12):
            inject_tagged(fake, sent, n)
        await eventually(
            lambda: any(c.number == number for c in cards(fake)), 30, "the first card", bot, fake
        )
        (card,) = [c for c in cards(fake) if c.number == number]

        # When the service stops, a card is in flight (Telegram takes it while the service is down, so
        # recording it or acking its queue entry must wait) and so is the answer to a staff press whose
        # change is committed (its card refresh and the resident's notice must wait too).
        card_sent = fake.hold_next("sendMessage", chat_id=UTILITIES_CHAT)
        for n in range(12, 18):
            inject_tagged(fake, sent, n)
        await eventually(
            lambda: in_flight(fake, "sendMessage", UTILITIES_CHAT), 30, "a card in flight", bot, fake
        )
        press_answered = fake.hold_next("answerCallbackQuery")
        fake.inject_callback(fake.user(STAFF, "Staff"), f"d:take:{number}", (card.chat_id, card.message_id))
        await eventually(lambda: in_flight(fake, "answerCallbackQuery"), 30, "a press in flight", bot, fake)
        if service == "postgres":
            await postgres.stop()
        else:
            await redis_server.stop()
        card_sent.set()
        press_answered.set()
        for n in range(18, 30):  # arrive while it is down
            inject_tagged(fake, sent, n)
            await asyncio.sleep(OUTAGE_SECONDS / 12)
        if service == "postgres":
            await postgres.start()
        else:
            await redis_server.start()
        for n in range(30, 36):
            inject_tagged(fake, sent, n)
        await eventually(
            lambda: all_delivered(postgres.url, fake, len(sent)), 120, "every complaint delivered", bot, fake
        )
        await eventually(lambda: said(fake, resident, "взято в работу"), 60, "the notice", bot, fake)
        await asyncio.sleep(1.0)  # a duplicate in flight would show up now
        assert bot.alive, f"the bot exited during the {service} outage\n{bot.tail()}"
    finally:
        code = await bot.stop()
    assert code == 0, bot.tail()
    rows = await complaints(postgres.url)
    assert_exactly_once(rows, cards(fake), sent)
    assert said(fake, resident, "взято в работу") == [
        f"Ваше обращение №{number} взято в работу: Управление энергетики и ЖКХ."
    ]
    assert [row.status for row in rows if row.id == number] == ["in_progress"]
    final = fake.message(card.chat_id, card.message_id)
    assert final is not None and "в работе" in str(final["text"])
    log = bot.log.read_text(encoding="utf-8")
    assert "retrying in" in log, "the outage never reached the bot: the test proves nothing"
    if service == "postgres":
        assert "recording the sent card" in log, "no card was in flight during the outage"
        assert f"card {number}: refresh" in log, "the press was not in flight during the outage"
    assert fake.token not in log
