"""PostgreSQL or Redis goes away in the middle of a burst and comes back: the bot rides it out, and
every tagged message is exactly one complaint with exactly one card."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.support import (
    UTILITIES_CHAT,
    BotProcess,
    all_delivered,
    assert_exactly_once,
    card_in_flight,
    cards,
    complaints,
    eventually,
    inject_tagged,
    migrate,
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
    sent: dict[int, str] = {}
    await bot.start()
    try:
        await wait_polling(fake)
        for n in range(12):
            inject_tagged(fake, sent, n)
        await eventually(lambda: len(cards(fake)) >= 3, 30, "the first cards", bot, fake)
        # a card in flight when the service stops: Telegram takes it while the service is down, so
        # recording it (PostgreSQL) or acking its queue entry (Redis) has to wait for the service
        fake.delay_next("sendMessage", 2.0, chat_id=UTILITIES_CHAT)
        for n in range(12, 18):
            inject_tagged(fake, sent, n)
        await eventually(lambda: card_in_flight(fake, UTILITIES_CHAT), 30, "a card in flight", bot, fake)
        if service == "postgres":
            await postgres.stop()
        else:
            await redis_server.stop()
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
        await asyncio.sleep(1.0)  # a duplicate in flight would show up now
        assert bot.alive, f"the bot exited during the {service} outage\n{bot.tail()}"
    finally:
        code = await bot.stop()
    assert code == 0, bot.tail()
    assert_exactly_once(await complaints(postgres.url), cards(fake), sent)
    log = bot.log.read_text(encoding="utf-8")
    assert "retrying in" in log, "the outage never reached the bot: the test proves nothing"
    if service == "postgres":
        assert "recording the sent card" in log, "no card was in flight during the outage"
    assert fake.token not in log
