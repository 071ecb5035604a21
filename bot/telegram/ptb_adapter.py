"""The python-telegram-bot adapter: Shagym's TelegramGateway on ptb 22's Bot and httpx.

Only ptb's `Bot` is used: ingress (polling loop, webhook server), handlers and retry policy are shared
with the aiogram adapter, so no `Application`, handlers or ptb update queue are involved.

Errors are classified by the HTTP status and the description Telegram sent, exactly as aiogram does
(`aiogram.client.session.base.BaseSession.check_response`): ptb folds 401 and 404 into `InvalidToken`,
every status other than 400/403/409 into `NetworkError`, and rewrites descriptions ("Bad Request: chat
not found" becomes "Chat not found"). `_StatusRequest` therefore raises `_ApiError` with the status and
the original description, and `PtbGateway._call` maps it with the same table as `AiogramGateway._call`.
ptb's own exceptions (time-outs, connection errors, an empty token) are translated too.
"""

from __future__ import annotations

import os

# ptb 22.2+ issues a PTBDeprecationWarning whenever it reads a time period as an int -- including inside
# `RetryAfter.__init__`, i.e. every time it builds the exception for a 429 -- unless PTB_TIMEDELTA=true,
# which makes such attributes timedeltas. Under `-W error` (our tests) the warning would be raised instead
# of the RetryAfter being translated, so opt in before ptb is imported. ptb reads the variable at call
# time; an operator's explicit setting wins (`_seconds` accepts both forms).
os.environ.setdefault("PTB_TIMEDELTA", "true")

import asyncio
import datetime as dtm
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot import telegram as port
from bot.config import TelegramConfig

T = TypeVar("T")

# Like aiogram's session (60 s per request by default, `telegram.request_timeout_seconds`): a short read
# time-out makes a slow answer look like a failure, and a retried sendMessage can post twice (the Bot API
# has no idempotency key).
_CONNECT_TIMEOUT = 10.0
_REQUEST_TIMEOUT = 60.0
_POOL_TIMEOUT = 5.0
_LONG_POLL_MARGIN = 15  # the getUpdates read time-out is the polling timeout plus this

_CHAT_GONE = ("chat not found", "bot was kicked", "not enough rights", "have no rights", "need administrator")
_TOKEN_REJECTED = "the bot token was rejected (401 Unauthorized)"
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

log = logging.getLogger(__name__)


class _ApiError(TelegramError):
    """A non-2xx Bot API answer, with the HTTP status and Telegram's description unchanged.

    A subclass of ptb's TelegramError, so `BaseRequest` passes it through untouched."""

    __slots__ = ("description", "parameters", "status")

    def __init__(self, status: int, description: str, parameters: dict[str, Any]) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class _StatusRequest(HTTPXRequest):
    """ptb's httpx transport, raising `_ApiError` for error answers instead of ptb's classification."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if 200 <= code <= 299:
            return code, payload
        try:
            body = json.loads(payload)
        except ValueError:
            body = None
        if not isinstance(body, dict):  # e.g. an HTML page from a proxy in front of the Bot API
            raise _ApiError(code, f"HTTP {code} with a non-JSON body", {})
        parameters = body.get("parameters")
        description = body.get("description")
        if not isinstance(description, str):
            description = f"HTTP {code}"
        raise _ApiError(code, description, parameters if isinstance(parameters, dict) else {})


def _markup(keyboard: port.Keyboard | None) -> InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url) for b in row]
            for row in keyboard
        ]
    )


def _reply_markup(keyboard: port.ReplyKeyboard) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [
                KeyboardButton(
                    b.text,
                    request_contact=b.request_contact or None,
                    request_location=b.request_location or None,
                )
                for b in row
            ]
            for row in keyboard
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def _request(*, connections: int, timeout: float = _REQUEST_TIMEOUT) -> _StatusRequest:
    return _StatusRequest(
        connection_pool_size=connections,
        connect_timeout=min(_CONNECT_TIMEOUT, timeout),
        read_timeout=timeout,
        write_timeout=timeout,
        media_write_timeout=timeout,
        pool_timeout=_POOL_TIMEOUT,
    )


def _seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class PtbGateway:
    """TelegramGateway over python-telegram-bot; translates its errors into the port's."""

    def __init__(self, config: TelegramConfig) -> None:
        self._token = config.token.get_secret_value()
        try:
            self._bot = Bot(
                self._token,
                base_url=config.api_url + "/bot",
                base_file_url=config.api_url + "/file/bot",
                request=_request(connections=256, timeout=config.request_timeout_seconds),
                # one long poll at a time: ptb's getUpdates transport has a single connection
                get_updates_request=_request(connections=1, timeout=config.request_timeout_seconds),
            )
        except InvalidToken:
            raise port.TelegramError("the bot token is empty or malformed") from None
        self._polling = asyncio.Lock()
        # a long poll may take the polling timeout plus this before it counts as lost
        self._long_poll_margin = min(_LONG_POLL_MARGIN, config.request_timeout_seconds)

    @property
    def bot(self) -> Bot:
        """The ptb Bot (for tests and benchmarks)."""
        return self._bot

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    async def _call(self, method: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except _ApiError as exc:
            raise self._translate_status(method, exc) from None
        except RetryAfter as exc:
            raise port.TelegramRetryAfter(exc.message, _seconds(exc.retry_after), method=method) from None
        except ChatMigrated as exc:
            raise port.TelegramError(exc.message, method=method) from None
        except Forbidden as exc:
            raise port.TelegramForbidden(exc.message, method=method) from None
        except BadRequest as exc:  # before NetworkError: ptb's BadRequest is a NetworkError
            if any(marker in exc.message.lower() for marker in _CHAT_GONE):
                raise port.TelegramForbidden(exc.message, method=method) from None
            raise port.TelegramBadRequest(exc.message, method=method) from None
        except InvalidToken:
            # ptb's own text can carry the token (Bot.initialize puts it in the message)
            raise port.TelegramError(_TOKEN_REJECTED, method=method) from None
        except (Conflict, NetworkError, TimeoutError) as exc:  # NetworkError covers TimedOut
            description = self._redact(str(exc) or type(exc).__name__)
            raise port.TelegramTransientError(description, method=method) from None
        except TelegramError as exc:
            raise port.TelegramError(self._redact(exc.message), method=method) from None

    @staticmethod
    def _translate_status(method: str, exc: _ApiError) -> port.TelegramError:
        """The status table of aiogram's check_response, then of AiogramGateway._call."""
        description, status = exc.description, exc.status
        retry_after = exc.parameters.get("retry_after")
        if retry_after:
            return port.TelegramRetryAfter(description, float(retry_after), method=method)
        if exc.parameters.get("migrate_to_chat_id"):
            return port.TelegramError(description, method=method)
        if status in (400, 404):
            if any(marker in description.lower() for marker in _CHAT_GONE):
                return port.TelegramForbidden(description, method=method)
            return port.TelegramBadRequest(description, method=method)
        if status == 409:
            return port.TelegramTransientError(description, method=method)
        if status == 401:
            return port.TelegramError(_TOKEN_REJECTED, method=method)
        if status == 403:
            return port.TelegramForbidden(description, method=method)
        if status == 413:  # too large never gets smaller by retrying
            return port.TelegramBadRequest(description, method=method)
        if status >= 500:
            return port.TelegramTransientError(description, method=method)
        return port.TelegramError(description, method=method)

    async def open(self) -> None:
        """Initialise ptb's HTTP clients and check the token with getMe.

        An unreachable Bot API is not fatal here: the HTTP clients are ready by then, and the bot
        retries getMe with backoff before it starts (as on aiogram, which opens without a request).
        """
        try:
            await self._call("getMe", self._bot.initialize())
        except port.TelegramTransientError as exc:
            log.warning("Bot API unreachable while opening; the bot retries: %s", exc.description)

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user."""
        me = await self._call("getMe", self._bot.get_me())
        return me.to_dict()

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll for raw updates.

        `Bot.get_updates` parses the batch into `Update` objects and fails the whole batch on one it
        cannot model, and `do_api_request("getUpdates")` warns, so this posts through `Bot._post`, which
        returns the JSON Telegram sent (and still uses the dedicated getUpdates transport)."""
        data: dict[str, Any] = {
            "offset": offset,
            "limit": limit,
            "timeout": timeout,
            "allowed_updates": allowed_updates,
        }
        async with self._polling:
            result = await self._call(
                "getUpdates",
                self._bot._post("getUpdates", data, read_timeout=timeout + self._long_poll_margin),
            )
        return cast(list[dict[str, Any]], result)

    async def set_webhook(self, url: str, *, secret_token: str | None, allowed_updates: list[str]) -> None:
        """Register the webhook."""
        await self._call(
            "setWebhook",
            self._bot.set_webhook(url, secret_token=secret_token, allowed_updates=allowed_updates),
        )

    async def delete_webhook(self) -> None:
        """Remove any webhook so polling works."""
        await self._call("deleteWebhook", self._bot.delete_webhook(drop_pending_updates=False))

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: port.Keyboard | None = None,
        reply_to_message_id: int | None = None,
        html: bool = True,
        reply_keyboard: port.ReplyKeyboard | None = None,
    ) -> port.SentMessage:
        """Send a message."""
        reply = (
            ReplyParameters(reply_to_message_id, allow_sending_without_reply=True)
            if reply_to_message_id
            else None
        )
        message = await self._call(
            "sendMessage",
            self._bot.send_message(
                chat_id,
                text,
                parse_mode="HTML" if html else None,
                reply_markup=_reply_markup(reply_keyboard)
                if reply_keyboard is not None
                else _markup(keyboard),
                reply_parameters=reply,
                link_preview_options=_NO_PREVIEW,
            ),
        )
        return port.SentMessage(message.chat.id, message.message_id)

    async def send_photo(
        self, chat_id: int, photo: str, *, caption: str | None = None, keyboard: port.Keyboard | None = None
    ) -> port.SentMessage:
        """Send a photo by file_id."""
        message = await self._call(
            "sendPhoto",
            self._bot.send_photo(
                chat_id, photo, caption=caption, parse_mode="HTML", reply_markup=_markup(keyboard)
            ),
        )
        return port.SentMessage(message.chat.id, message.message_id)

    async def send_media_group(self, chat_id: int, photos: list[str]) -> list[port.SentMessage]:
        """Send an album."""
        messages = await self._call(
            "sendMediaGroup",
            self._bot.send_media_group(chat_id, [InputMediaPhoto(p) for p in photos[:10]]),
        )
        return [port.SentMessage(m.chat.id, m.message_id) for m in messages]

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, *, caption: str | None = None
    ) -> port.SentMessage:
        """Upload a document."""
        message = await self._call(
            "sendDocument",
            self._bot.send_document(
                chat_id, InputFile(data, filename=filename), caption=caption, parse_mode="HTML"
            ),
        )
        return port.SentMessage(message.chat.id, message.message_id)

    async def edit_message_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: port.Keyboard | None = None
    ) -> None:
        """Edit a sent message's text."""
        await self._call(
            "editMessageText",
            self._bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML",
                reply_markup=_markup(keyboard),
                link_preview_options=_NO_PREVIEW,
            ),
        )

    async def edit_message_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: port.Keyboard | None = None
    ) -> None:
        """Edit a sent photo's caption."""
        await self._call(
            "editMessageCaption",
            self._bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=caption,
                parse_mode="HTML",
                reply_markup=_markup(keyboard),
            ),
        )

    async def edit_message_keyboard(
        self, chat_id: int, message_id: int, keyboard: port.Keyboard | None
    ) -> None:
        """Edit a sent message's keyboard."""
        await self._call(
            "editMessageReplyMarkup",
            self._bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=_markup(keyboard)
            ),
        )

    async def answer_callback(
        self, callback_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        """Answer a callback query."""
        await self._call(
            "answerCallbackQuery",
            self._bot.answer_callback_query(callback_id, text=text, show_alert=alert),
        )

    async def get_chat_administrators(self, chat_id: int) -> list[int]:
        """User ids of the chat's administrators."""
        members = await self._call("getChatAdministrators", self._bot.get_chat_administrators(chat_id))
        return [member.user.id for member in members]

    async def close(self) -> None:
        """Close ptb's HTTP clients."""
        await self._bot.shutdown()


@asynccontextmanager
async def ptb_gateway(config: TelegramConfig) -> AsyncIterator[PtbGateway]:
    """A PtbGateway, initialised (token checked) on entry and shut down on exit."""
    gateway = PtbGateway(config)
    try:
        await gateway.open()
        yield gateway
    finally:
        await gateway.close()
