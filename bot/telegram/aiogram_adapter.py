"""The aiogram adapter: Shagym's TelegramGateway on aiogram 3's Bot and aiohttp session."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyParameters,
)

from bot import telegram as port
from bot.config import TelegramConfig

log = logging.getLogger(__name__)

T = TypeVar("T")


class _RawGetUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates returning the wire JSON: the inbox stores exactly what Telegram sent, and one
    update aiogram cannot model never blocks the batch it came in."""

    __returning__: ClassVar[Any] = list[dict[str, Any]]
    __api_method__: ClassVar[str] = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


def _markup(keyboard: port.Keyboard | None) -> InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.text, callback_data=b.callback_data, url=b.url) for b in row]
            for row in keyboard
        ]
    )


def _reply_markup(keyboard: port.ReplyKeyboard) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [
                KeyboardButton(
                    text=b.text,
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


_LONG_POLL_MARGIN = 15.0
_CHAT_GONE = ("chat not found", "bot was kicked", "not enough rights", "have no rights", "need administrator")


class AiogramGateway:
    """TelegramGateway over aiogram; translates aiogram's errors into the port's."""

    def __init__(self, config: TelegramConfig) -> None:
        # a request Telegram does not answer within the time-out fails as transient and is retried
        session = AiohttpSession(
            api=TelegramAPIServer.from_base(config.api_url), timeout=config.request_timeout_seconds
        )
        self._bot = Bot(
            token=config.token.get_secret_value(),
            session=session,
            default=DefaultBotProperties(link_preview=LinkPreviewOptions(is_disabled=True)),
        )
        self._polling_timeout = config.polling_timeout
        # a long poll may take the polling timeout plus this before it counts as lost
        self._long_poll_margin = min(_LONG_POLL_MARGIN, config.request_timeout_seconds)

    @property
    def bot(self) -> Bot:
        """The aiogram Bot (for tests and benchmarks)."""
        return self._bot

    async def _call(self, method: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except TelegramRetryAfter as exc:
            raise port.TelegramRetryAfter(exc.message, float(exc.retry_after), method=method) from None
        except TelegramForbiddenError as exc:
            raise port.TelegramForbidden(exc.message, method=method) from None
        except TelegramEntityTooLarge as exc:  # a subclass of the network error, but retrying cannot help
            raise port.TelegramBadRequest(exc.message, method=method) from None
        except (TelegramBadRequest, TelegramNotFound) as exc:
            if any(marker in exc.message.lower() for marker in _CHAT_GONE):
                raise port.TelegramForbidden(exc.message, method=method) from None
            raise port.TelegramBadRequest(exc.message, method=method) from None
        except (TelegramServerError, TelegramNetworkError, ClientDecodeError, TimeoutError) as exc:
            # ClientDecodeError: a non-JSON answer, e.g. a proxy's HTML 502 page
            raise port.TelegramTransientError(str(exc) or type(exc).__name__, method=method) from None
        except TelegramConflictError as exc:
            raise port.TelegramTransientError(exc.message, method=method) from None
        except TelegramUnauthorizedError:
            # never echo the request: it would carry the token
            raise port.TelegramError("the bot token was rejected (401 Unauthorized)", method=method) from None
        except TelegramAPIError as exc:
            raise port.TelegramError(exc.message, method=method) from None

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user."""
        me = await self._call("getMe", self._bot.get_me())
        return me.model_dump(mode="json", exclude_none=True, by_alias=True)

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll for raw updates."""
        method = _RawGetUpdates(offset=offset, limit=limit, timeout=timeout, allowed_updates=allowed_updates)
        request_timeout = math.ceil(timeout + self._long_poll_margin)
        return await self._call("getUpdates", self._bot(method, request_timeout=request_timeout))

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
            ReplyParameters(message_id=reply_to_message_id, allow_sending_without_reply=True)
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
            self._bot.send_media_group(chat_id, [InputMediaPhoto(media=p) for p in photos[:10]]),
        )
        return [port.SentMessage(m.chat.id, m.message_id) for m in messages]

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, *, caption: str | None = None
    ) -> port.SentMessage:
        """Upload a document."""
        message = await self._call(
            "sendDocument",
            self._bot.send_document(
                chat_id, BufferedInputFile(data, filename=filename), caption=caption, parse_mode="HTML"
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
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML",
                reply_markup=_markup(keyboard),
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
        """Close the HTTP session."""
        await self._bot.session.close()


@asynccontextmanager
async def aiogram_gateway(config: TelegramConfig) -> AsyncIterator[AiogramGateway]:
    """An AiogramGateway closed on exit."""
    gateway = AiogramGateway(config)
    try:
        yield gateway
    finally:
        await gateway.close()
