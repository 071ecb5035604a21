"""The Telegram port: what the bot needs from the Bot API, independent of aiogram or python-telegram-bot.

Adapters implement `TelegramGateway` and translate their library's errors into the exceptions below,
so retry and parking policy lives in one place (delivery and the outbound sender), not per framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class TelegramError(Exception):
    """A Bot API call failed."""

    def __init__(self, description: str, *, method: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.method = method


class TelegramRetryAfter(TelegramError):
    """429 Too Many Requests: wait `retry_after` seconds before sending to that chat again."""

    def __init__(self, description: str, retry_after: float, *, method: str = "") -> None:
        super().__init__(description, method=method)
        self.retry_after = retry_after


class TelegramForbidden(TelegramError):
    """403, or 400 "chat not found": the bot cannot write to that chat until an admin fixes it."""


class TelegramBadRequest(TelegramError):
    """400: the request itself is wrong (too long, not modified, message not found, ...)."""


class TelegramTransientError(TelegramError):
    """Network failure, time-out or 5xx: retry later with backoff."""


# What Telegram answers, with a 400 (or a 404), when the chat is gone for the bot: deleted, the bot kicked or
# stripped of its rights. Retrying cannot help, so such an answer counts as forbidden: the card waits,
# parked, until an admin fixes the chat.
_CHAT_GONE = ("chat not found", "bot was kicked", "not enough rights", "have no rights", "need administrator")


def refusal(description: str, *, method: str) -> TelegramError:
    """The error for a 400 or 404 answer: forbidden when the chat is gone for the bot, else a bad request."""
    if any(marker in description.lower() for marker in _CHAT_GONE):
        return TelegramForbidden(description, method=method)
    return TelegramBadRequest(description, method=method)


def migration(description: str, *, method: str) -> TelegramError:
    """The error for "the group is now a supergroup": a plain refusal, not a chat gone (its id changed)."""
    return TelegramError(description, method=method)


# Telegram's limits on a message's text and a media caption, in UTF-16 code units
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Button:
    """An inline keyboard button with callback data (at most 64 bytes) or a URL."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.callback_data is not None and len(self.callback_data.encode()) > 64:
            raise ValueError("callback data is limited to 64 bytes")


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class ReplyButton:
    """A button of the keyboard under the input field; may ask for the user's contact or location."""

    text: str
    request_contact: bool = False
    request_location: bool = False


ReplyKeyboard = tuple[tuple[ReplyButton, ...], ...]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What Telegram answered to a send."""

    chat_id: int
    message_id: int


class TelegramGateway(Protocol):
    """Outbound Bot API calls used by Shagym, plus the raw update feed for polling."""

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user object (wire format)."""
        ...

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll for updates; returns them in wire format (the JSON Telegram sent)."""
        ...

    async def set_webhook(self, url: str, *, secret_token: str | None, allowed_updates: list[str]) -> None:
        """Point Telegram at our webhook URL."""
        ...

    async def delete_webhook(self) -> None:
        """Stop webhook delivery (needed before polling)."""
        ...

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        reply_to_message_id: int | None = None,
        html: bool = True,
        reply_keyboard: ReplyKeyboard | None = None,
    ) -> SentMessage:
        """Send a text message (HTML by default, no link previews); `reply_keyboard` replaces `keyboard`."""
        ...

    async def send_photo(
        self, chat_id: int, photo: str, *, caption: str | None = None, keyboard: Keyboard | None = None
    ) -> SentMessage:
        """Send a photo by file_id with an optional HTML caption."""
        ...

    async def send_media_group(self, chat_id: int, photos: list[str]) -> list[SentMessage]:
        """Send several photos (file_ids) as one album."""
        ...

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, *, caption: str | None = None
    ) -> SentMessage:
        """Upload a file (e.g. a PNG chart)."""
        ...

    async def edit_message_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        """Replace a sent message's text and keyboard."""
        ...

    async def edit_message_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: Keyboard | None = None
    ) -> None:
        """Replace a sent photo's caption and keyboard."""
        ...

    async def edit_message_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        """Replace only the inline keyboard of a sent message."""
        ...

    async def answer_callback(
        self, callback_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        """Acknowledge a button press, optionally with a notice."""
        ...

    async def get_chat_administrators(self, chat_id: int) -> list[int]:
        """User ids of a group's administrators."""
        ...

    async def close(self) -> None:
        """Release the HTTP session."""
        ...
