"""`kill -9` in the middle of a burst on PostgreSQL and the Redis queue: after a restart every tagged
message is exactly one complaint with exactly one card, but for the documented window (a card Telegram
accepted just before the kill, before its message id was recorded: its row says `sending`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.support import (
    BotProcess,
    all_delivered,
    assert_exactly_once,
    cards,
    complaints,
    eventually,
    inject_tagged,
    migrate,
    wait_polling,
    write_config,
)


async def test_kill_9_mid_burst_on_postgres_and_redis(
    tmp_path: Path, fake: FakeBotAPI, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> None:
    config = write_config(tmp_path, fake, database_url=postgres.url, redis_url=redis_server.url)
    await migrate(config)
    log = tmp_path / "bot.log"
    sent: dict[int, str] = {}
    first = BotProcess(config, log)
    await first.start()
    try:
        await wait_polling(fake)
        for n in range(20):
            inject_tagged(fake, sent, n)
        await eventually(lambda: len(cards(fake)) >= 4, 30, "the first cards", first, fake)
        for n in range(20, 40):
            inject_tagged(fake, sent, n)
            await asyncio.sleep(0.005)
    finally:
        await first.kill()  # mid-burst: some stored, some processed, some cards on their way
    posted_before = len(cards(fake))
    in_doubt = frozenset(row.id for row in await complaints(postgres.url) if row.card_state == "sending")

    second = BotProcess(config, log)
    await second.start()
    try:
        await eventually(
            lambda: all_delivered(postgres.url, fake, len(sent)),
            90,
            "every complaint delivered",
            second,
            fake,
        )
        await asyncio.sleep(1.0)  # a duplicate in flight would show up now
    finally:
        code = await second.stop()
    assert code == 0, second.tail()
    assert posted_before < len(sent), "the kill came after the burst was done: the test proves nothing"
    assert_exactly_once(await complaints(postgres.url), cards(fake), sent, may_repeat=in_doubt)
