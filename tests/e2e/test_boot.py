"""A Bot API that is unreachable when the bot starts: the bot waits for it, on both frameworks."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Config
from tests.e2e.conftest import CITY_CHAT, RESIDENT, UTILITIES_CHAT, running_bot
from tests.fakes.bot_api import FakeBotAPI


async def test_bot_api_down_at_boot_is_waited_out(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    fake.fail_next("getMe", error_code=502, times=3)  # opening, then the bot's own retries
    async with running_bot(config_factory()):
        fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, timeout=15)
    assert len(fake.calls("getMe", ok=False)) == 3
    assert fake.calls("getMe")  # and then it got through
