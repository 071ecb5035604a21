"""Outbound messages that are not cards: replies, notifications, acknowledgements.

Every send goes through the rate limiter; 429 waits Telegram's retry_after, network errors back off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.core.text import escape_html, utf16_len
from bot.telegram import (
    CAPTION_LIMIT,
    Keyboard,
    ReplyKeyboard,
    SentMessage,
    TelegramError,
    TelegramForbidden,
    TelegramGateway,
    TelegramRetryAfter,
    TelegramTransientError,
)
from bot.telegram.ratelimit import RateLimiter

log = logging.getLogger(__name__)

_MAX_DELAY = 30.0  # longest pause between two attempts of one message
_MAX_THROTTLED = 20  # 429s in a row before a message is given up


class Outbound:
    """Sends with rate limiting and bounded retries; a message that cannot go is logged, never raised."""

    def __init__(self, gateway: TelegramGateway, limiter: RateLimiter, *, attempts: int = 6) -> None:
        self._gateway = gateway
        self._limiter = limiter
        self._attempts = attempts

    @property
    def gateway(self) -> TelegramGateway:
        """The underlying gateway (for calls that are not rate limited, like answering callbacks)."""
        return self._gateway

    async def _deliver(
        self,
        chat_id: int,
        what: str,
        call: Callable[[], Awaitable[SentMessage]],
        *,
        raising: bool = False,
    ) -> SentMessage | None:
        """Run a send within the rate limit: a 429 waits as long as Telegram says, network errors, time-outs
        and 5xx are retried `attempts` times with growing pauses (about a minute in all). A message that
        cannot go is logged and None returned, or with `raising` the last error raised (for a caller that
        keeps the message and tries again later)."""
        delay = 1.0
        failures = 0
        throttled = 0
        last: TelegramError | None = None
        while failures < self._attempts and throttled < _MAX_THROTTLED:
            await self._limiter.acquire(chat_id)
            try:
                return await call()
            except TelegramRetryAfter as exc:
                # flood control says when to come back: a wait, not a failed attempt
                last = exc
                throttled += 1
                self._limiter.penalise(chat_id, exc.retry_after)
                log.info("429 for chat %s, waiting %ss", chat_id, exc.retry_after)
            except TelegramTransientError as exc:
                last = exc
                failures += 1
                log.warning("%s to %s failed (attempt %d): %s", what, chat_id, failures, exc.description)
                if failures < self._attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _MAX_DELAY)
            except TelegramForbidden as exc:
                log.warning("cannot write to chat %s: %s", chat_id, exc.description)
                if raising:
                    raise
                return None
            except TelegramError as exc:
                log.error("%s to %s refused: %s", what, chat_id, exc.description)
                if raising:
                    raise
                return None
        log.error("giving up on a %s to chat %s after %d failures", what, chat_id, failures + throttled)
        if raising and last is not None:
            raise last
        return None

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        html: bool = True,
        reply_to_message_id: int | None = None,
        reply_keyboard: ReplyKeyboard | None = None,
        raising: bool = False,
    ) -> SentMessage | None:
        """Send a message, waiting for the rate limiter and retrying 429 and transient errors."""
        return await self._deliver(
            chat_id,
            "message",
            lambda: self._gateway.send_message(
                chat_id,
                text,
                keyboard=keyboard,
                html=html,
                reply_to_message_id=reply_to_message_id,
                reply_keyboard=reply_keyboard,
            ),
            raising=raising,
        )

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, *, caption: str | None = None
    ) -> SentMessage | None:
        """Upload a file (a digest's chart) with the same limits and retries as a message."""
        return await self._deliver(
            chat_id, "document", lambda: self._gateway.send_document(chat_id, filename, data, caption=caption)
        )

    async def edit(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None, html: bool = True
    ) -> bool:
        """Edit a message the bot sent; False when Telegram refused (too old, deleted); unchanged is True."""
        if not html:
            # edits always go with parse_mode=HTML: plain text escaped shows exactly as it was written
            text = escape_html(text)
        await self._limiter.acquire(chat_id)
        try:
            await self._gateway.edit_message_text(chat_id, message_id, text, keyboard=keyboard)
        except TelegramError as exc:
            if "not modified" in (exc.description or ""):
                return True  # it already shows this text and keyboard
            if "no text in the message" in (exc.description or "") and utf16_len(text) <= CAPTION_LIMIT:
                # a card sent as a photo: its caption is what shows the text
                return await self._edit_caption(chat_id, message_id, text, keyboard)
            log.info("edit of %s/%s refused: %s", chat_id, message_id, exc.description)
            return False
        return True

    async def _edit_caption(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None
    ) -> bool:
        await self._limiter.acquire(chat_id)
        try:
            await self._gateway.edit_message_caption(chat_id, message_id, text, keyboard=keyboard)
        except TelegramError as exc:
            if "not modified" in (exc.description or ""):
                return True
            log.info("caption edit of %s/%s refused: %s", chat_id, message_id, exc.description)
            return False
        return True

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> bool:
        """Swap a message's inline keyboard (pickers on cards)."""
        try:
            await self._gateway.edit_message_keyboard(chat_id, message_id, keyboard)
        except TelegramError as exc:
            log.info("keyboard of %s/%s not changed: %s", chat_id, message_id, exc.description)
            return False
        return True

    async def answer_callback(
        self, callback_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        """Answer a button press (Telegram shows a spinner until we do)."""
        try:
            await self._gateway.answer_callback(callback_id, text, alert=alert)
        except TelegramError as exc:
            # callback answers expire after a few seconds; a late one is harmless to drop
            log.info("answerCallbackQuery failed: %s", exc.description)
