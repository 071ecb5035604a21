"""The floor for the pipeline benchmark: an aiogram bot that receives every update and does nothing.

`python -m bench.bare_aiogram API_URL TOKEN`; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def main(api_url: str, token: str) -> None:
    """Poll until SIGTERM with a handler that only receives."""
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def receive(message: Message) -> None:
        return None

    await dispatcher.start_polling(bot, polling_timeout=1, handle_signals=True, close_bot_session=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
