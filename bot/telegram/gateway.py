"""The port's sending and editing calls, written once for both adapters.

aiogram's and python-telegram-bot's `Bot` both name their methods and keyword arguments after the Bot API
(`send_message(chat_id, text, reply_markup=...)`), and their types take the Bot API's field names, so each
call is the same on either library. An adapter supplies its `Bot`, the classes of its types (`BotTypes`)
and `_call`, which translates its library's errors into the port's; what differs between the libraries
(the raw update feed, opening and closing, the bot's own user) stays in the adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from bot import telegram as port

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BotTypes:
    """A library's classes for the Bot API types the calls build; each takes the Bot API's field names."""

    inline_keyboard: Callable[..., Any]
    inline_button: Callable[..., Any]
    reply_keyboard: Callable[..., Any]
    reply_button: Callable[..., Any]
    reply_parameters: Callable[..., Any]
    media_photo: Callable[..., Any]
    link_preview: Callable[..., Any]
    upload: Callable[..., Any]  # an in-memory file: (data, filename=...)

    @classmethod
    def of(cls, module: ModuleType, *, upload: Callable[..., Any]) -> BotTypes:
        """The classes of a library module that names them as the Bot API does (aiogram.types, telegram)."""
        return cls(
            inline_keyboard=module.InlineKeyboardMarkup,
            inline_button=module.InlineKeyboardButton,
            reply_keyboard=module.ReplyKeyboardMarkup,
            reply_button=module.KeyboardButton,
            reply_parameters=module.ReplyParameters,
            media_photo=module.InputMediaPhoto,
            link_preview=module.LinkPreviewOptions,
            upload=upload,
        )


class LibraryGateway(ABC):
    """The TelegramGateway calls that are the same on both libraries; adapters add the rest."""

    # the library's Bot: its methods take the Bot API's parameter names on both libraries
    _bot: Any
    types: BotTypes

    @abstractmethod
    async def _call(self, method: str, call: Awaitable[T]) -> T:
        """Await a library call, translating the library's errors into the port's."""

    def _markup(self, keyboard: port.Keyboard | None) -> Any:
        if keyboard is None:
            return None
        button = self.types.inline_button
        rows = [[button(text=b.text, callback_data=b.callback_data, url=b.url) for b in r] for r in keyboard]
        return self.types.inline_keyboard(inline_keyboard=rows)

    def _reply_markup(self, keyboard: port.ReplyKeyboard) -> Any:
        button = self.types.reply_button
        return self.types.reply_keyboard(
            keyboard=[
                [
                    button(
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

    def _no_preview(self) -> Any:
        return self.types.link_preview(is_disabled=True)

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
            self.types.reply_parameters(message_id=reply_to_message_id, allow_sending_without_reply=True)
            if reply_to_message_id
            else None
        )
        message = await self._call(
            "sendMessage",
            self._bot.send_message(
                chat_id,
                text,
                parse_mode="HTML" if html else None,
                reply_markup=self._reply_markup(reply_keyboard)
                if reply_keyboard is not None
                else self._markup(keyboard),
                reply_parameters=reply,
                link_preview_options=self._no_preview(),
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
                chat_id, photo, caption=caption, parse_mode="HTML", reply_markup=self._markup(keyboard)
            ),
        )
        return port.SentMessage(message.chat.id, message.message_id)

    async def send_media_group(self, chat_id: int, photos: list[str]) -> list[port.SentMessage]:
        """Send an album."""
        media = [self.types.media_photo(media=p) for p in photos[:10]]
        messages = await self._call("sendMediaGroup", self._bot.send_media_group(chat_id, media))
        return [port.SentMessage(m.chat.id, m.message_id) for m in messages]

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, *, caption: str | None = None
    ) -> port.SentMessage:
        """Upload a document."""
        document = self.types.upload(data, filename=filename)
        message = await self._call(
            "sendDocument",
            self._bot.send_document(chat_id, document, caption=caption, parse_mode="HTML"),
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
                reply_markup=self._markup(keyboard),
                link_preview_options=self._no_preview(),
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
                reply_markup=self._markup(keyboard),
            ),
        )

    async def edit_message_keyboard(
        self, chat_id: int, message_id: int, keyboard: port.Keyboard | None
    ) -> None:
        """Edit a sent message's keyboard."""
        await self._call(
            "editMessageReplyMarkup",
            self._bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=self._markup(keyboard)
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
