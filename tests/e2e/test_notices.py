"""Notices to residents are owed durably: one the bot could not send before it stopped goes out after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.config import Config
from bot.views.i18n import t
from tests.e2e.conftest import running_bot
from tests.e2e.test_desk import STAFF, UTILITIES_CHAT, complaint, file_private, press
from tests.e2e.test_residents import Resident
from tests.fakes.bot_api import FakeBotAPI

RESIDENT_ID = 720301


def taken_notices(fake: FakeBotAPI, expected: str) -> list[str]:
    return [c.text or "" for c in fake.calls("sendMessage", chat_id=RESIDENT_ID) if c.text == expected]


async def test_a_notice_owed_at_shutdown_is_sent_after_the_restart(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, RESIDENT_ID, language_code="ru")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        fake.fail_next("sendMessage", error_code=500, times=None, chat_id=RESIDENT_ID)  # the chat is down
        await press(fake, STAFF, f"d:take:{number}", card)
        await fake.wait_for_call("sendMessage", chat_id=RESIDENT_ID, ok=False, timeout=10)
        # the bot stops while Telegram still refuses the notice
    expected = t("notify.taken", "ru", number=number, department=config.department_name("utilities", "ru"))
    assert (await complaint(config, number)).status == "in_progress"
    assert taken_notices(fake, expected) == []

    fake.clear_faults()
    async with running_bot(config):
        await fake.wait_for(lambda _: taken_notices(fake, expected), 15)
        await asyncio.sleep(1.0)  # a second copy would show up now
    assert taken_notices(fake, expected) == [expected]
