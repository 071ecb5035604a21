"""`kill -9` right after Telegram accepted a combined message and before the bot recorded it, on PostgreSQL
and the Redis queue: after a restart every complaint is listed or carded, at most one message per
department chat is repeated, and that repeat says it may be one ("⟳")."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CITY_CHAT
from tests.fakes.bot_api import ApiCall, FakeBotAPI
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.support import (
    DEPARTMENT_CHATS,
    UTILITIES_CHAT,
    BotProcess,
    DepartmentMessage,
    complaints,
    department_messages,
    eventually,
    inject_tagged,
    migrate,
    pending_inbox,
    wait_polling,
    write_config,
)

_NUMBER = re.compile(r"^d:[a-z]+:(\d+)")
# the real 1 message/s per chat: a burst in one chat is more than its budget lets out, so it is combined
ONE_A_SECOND = {"per_chat_per_second": 1, "per_group_per_minute": 600, "global_per_second": 100}


def _numbers(params: dict[str, Any]) -> set[int]:
    markup = params.get("reply_markup") or {}
    found = set()
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if match := _NUMBER.match(str(button.get("callback_data", ""))):
                found.add(int(match.group(1)))
    return found


class HeldCombined:
    """The fake Bot API takes the first combined message in a department chat (it is in the chat) and
    holds its answer until `release`: Telegram has the message, the bot has not heard so yet."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.accepted = asyncio.Event()
        self.release = asyncio.Event()
        self.numbers: frozenset[int] = frozenset()
        self._send = fake._m_send_message  # the built-in sendMessage, wrapped
        fake.register_method("sendMessage", self._handle)

    async def _handle(self, call: ApiCall) -> Any:
        result = await self._send(call)
        numbers = _numbers(call.params)
        if not self.accepted.is_set() and call.params.get("chat_id") in DEPARTMENT_CHATS and len(numbers) > 1:
            self.numbers = frozenset(numbers)
            self.accepted.set()
            await self.release.wait()
        return result


async def _settled(database_url: str, fake: FakeBotAPI, expected: int) -> bool:
    """Every complaint stored, recorded as carded or listed, and carried by a message in its chat."""
    carried = {n for message in department_messages(fake) for n in message.numbers}
    try:
        rows = await complaints(database_url)
        pending = await pending_inbox(database_url)
    except Exception:  # the database may be busy with the restart
        return False
    return (
        len([row for row in rows if row.chat_id == CITY_CHAT]) >= expected
        and pending == 0
        and all(row.card_state in ("sent", "combined") for row in rows)
        and {row.id for row in rows} <= carried
    )


def _repeats(messages: list[DepartmentMessage]) -> dict[int, list[DepartmentMessage]]:
    """Per department chat, the messages that carry a complaint an earlier message there carried."""
    seen: dict[int, set[int]] = {}
    repeated: dict[int, list[DepartmentMessage]] = {}
    for message in messages:
        before = seen.setdefault(message.chat_id, set())
        if message.numbers & before:
            repeated.setdefault(message.chat_id, []).append(message)
        before |= message.numbers
    return repeated


async def test_kill_9_after_a_combined_message_repeats_one_marked_message(
    tmp_path: Path, fake: FakeBotAPI, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> None:
    config = write_config(
        tmp_path,
        fake,
        database_url=postgres.url,
        redis_url=redis_server.url,
        delivery={"combine_min": 3, "combine_max": 10},
        rate_limit=ONE_A_SECOND,
    )
    await migrate(config)
    log = tmp_path / "bot.log"
    held = HeldCombined(fake)
    sent: dict[int, str] = {}
    first = BotProcess(config, log)
    await first.start()
    try:
        await wait_polling(fake)
        for n in range(0, 36, 3):  # twelve complaints for the utilities department
            inject_tagged(fake, sent, n)
        try:
            await asyncio.wait_for(held.accepted.wait(), 60)
        except TimeoutError:
            raise AssertionError(f"no combined message\n{first.tail()}\n{fake.describe_sent(40)}") from None
    finally:
        await first.kill()  # Telegram has the combined message; its answer never reached the bot
    in_doubt = frozenset(row.id for row in await complaints(postgres.url) if row.card_state == "sending")
    held.release.set()  # the fake finishes the call: the message counts as accepted
    await eventually(
        lambda: any(m.numbers == held.numbers for m in department_messages(fake)), 10, "the held one", first
    )

    second = BotProcess(config, log)
    await second.start()
    try:
        await eventually(lambda: _settled(postgres.url, fake, len(sent)), 90, "every complaint", second, fake)
        await asyncio.sleep(1.0)  # a repeat in flight would show up now
    finally:
        code = await second.stop()
    assert code == 0, second.tail()
    assert len(held.numbers) >= 3 and in_doubt == held.numbers, "the kill missed the window"

    rows = await complaints(postgres.url)
    city = sorted(row.message_id for row in rows if row.chat_id == CITY_CHAT)
    assert city == sorted(sent), "each tagged message is one complaint"
    messages = department_messages(fake)
    for row in rows:
        carrying = [m for m in messages if row.id in m.numbers]
        recorded = [
            m for m in carrying if (m.chat_id, m.message_id) == (row.card_chat_id, row.card_message_id)
        ]
        assert len(recorded) == 1, f"complaint {row.id}: not recorded in a message that carries it"
    repeats = _repeats(messages)
    assert all(len(found) <= 1 for found in repeats.values()), f"several repeats in a chat: {repeats}"
    (repeat,) = repeats[UTILITIES_CHAT]
    assert repeat.numbers == held.numbers, "the held message's complaints are recovered together"
    assert all("⟳" in m.text for found in repeats.values() for m in found), "a repeat is not marked"
