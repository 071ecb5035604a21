"""Acknowledgements in monitored chats: "Передано в …, №123" under a tagged message, if the chat asked."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.config import Config
from bot.core.events import IncomingMessage
from bot.telegram import TelegramError
from bot.telegram.outbound import Outbound
from bot.telegram.ratelimit import RateLimiter
from bot.views.i18n import DEFAULT_LANGUAGE, t

log = logging.getLogger(__name__)


class Acknowledger:
    """Optional "Передано в …, №123" replies in source chats: off by default, at most one per interval."""

    def __init__(
        self,
        config: Config,
        outbound: Outbound,
        limiter: RateLimiter,
        department_name: Callable[[str, str], str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chats = frozenset(config.watch.acknowledge_chats)
        self._interval = config.watch.acknowledge_interval_seconds
        self._outbound = outbound
        self._limiter = limiter
        self._department_name = department_name
        self._clock = clock
        self._last: dict[int, float] = {}

    async def acknowledge(self, message: IncomingMessage, number: int, department: str) -> bool:
        """Reply in the source chat if it asked for acknowledgements and its interval has passed."""
        chat_id = message.chat.id
        if chat_id not in self._chats:
            return False
        now = self._clock()
        last = self._last.get(chat_id)
        if last is not None and now - last < self._interval:
            return False
        # never wait for the limiter: a skipped acknowledgement is better than a flooded chat
        if self._limiter.reserve(chat_id) > 0:
            return False
        self._last[chat_id] = now
        language = "kk" if (message.sender and message.sender.language_code == "kk") else DEFAULT_LANGUAGE
        text = t(
            "ack.forwarded", language, department=self._department_name(department, language), number=number
        )
        try:
            await self._outbound.gateway.send_message(
                chat_id, text, html=False, reply_to_message_id=message.message_id
            )
        except TelegramError as exc:
            log.info("acknowledgement in chat %s failed: %s", chat_id, exc.description)
            return False
        return True
