"""The aiogram adapter keeps alive the response types aiogram validates every answer with, so a garbage
collection never makes the next API call rebuild one."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from aiogram import Bot
from aiogram.methods import Response, TelegramMethod

from bot.telegram.aiogram_adapter import aiogram_gateway
from tests.fakes.bot_api import FakeBotAPI
from tests.unit.test_ptb_adapter import CHAT, _exercise, config_for


def survives_a_collection(returning: Any) -> bool:
    """Whether `Response[returning]` outlives a full collection when only its builder held it."""
    # built inside a function: pydantic pins a parametrisation made at module level in that module
    held = weakref.ref(Response[returning])
    gc.collect()
    return held() is not None


async def test_every_response_type_the_gateway_meets_outlives_a_collection() -> None:
    called: list[type[TelegramMethod[Any]]] = []

    async def record(make_request: Any, bot: Bot, method: TelegramMethod[Any]) -> Any:
        called.append(type(method))
        return await make_request(bot, method)

    async with FakeBotAPI() as fake:
        fake.add_chat(CHAT, type="supergroup", title="Отдел")
        async with aiogram_gateway(config_for(fake.url, fake.token)) as gateway:
            gateway.bot.session.middleware(record)
            await _exercise(gateway, fake)  # every method of the gateway
            names = {kind.__name__ for kind in called}
            assert {"SendMessage", "EditMessageText", "AnswerCallbackQuery", "_RawGetUpdates"} <= names
            lost = [kind.__name__ for kind in set(called) if not survives_a_collection(kind.__returning__)]
            assert sorted(lost) == []
