"""In-memory ports for use-case tests: a department queue and a Telegram gateway that records calls."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import telegram as port
from storage.queues import QueueEntry, QueueStats


@dataclass
class _Item:
    id: str
    payload: dict[str, Any]
    enqueued_at: datetime
    available_at: float = 0.0
    attempts: int = 0


class InMemoryQueue:
    """DepartmentQueue semantics (leases, release with delay) in a dict."""

    def __init__(self, *, lease_seconds: float = 60.0) -> None:
        self._lease = lease_seconds
        self._items: dict[str, dict[str, _Item]] = defaultdict(dict)
        self._ids = itertools.count(1)

    async def put(self, queue: str, payload: dict[str, Any]) -> str:
        entry_id = str(next(self._ids))
        self._items[queue][entry_id] = _Item(entry_id, payload, datetime.now(UTC))
        return entry_id

    async def claim(self, queue: str, consumer: str, *, count: int = 10) -> list[QueueEntry]:
        now = time.monotonic()
        ready = [item for item in self._items[queue].values() if item.available_at <= now][:count]
        for item in ready:
            item.attempts += 1
            item.available_at = now + self._lease
        return [QueueEntry(i.id, queue, dict(i.payload), i.attempts, i.enqueued_at) for i in ready]

    async def ack(self, queue: str, entry_id: str) -> None:
        self._items[queue].pop(entry_id, None)

    async def ack_many(self, queue: str, entry_ids: list[str]) -> None:
        for entry_id in entry_ids:
            self._items[queue].pop(entry_id, None)

    async def release(self, queue: str, entry_id: str, *, delay: float = 0.0) -> None:
        item = self._items[queue].get(entry_id)
        if item is not None:
            item.available_at = time.monotonic() + delay

    async def stats(self, queue: str) -> QueueStats:
        items = list(self._items[queue].values())
        if not items:
            return QueueStats(0, 0.0)
        oldest = min(i.enqueued_at for i in items)
        return QueueStats(len(items), (datetime.now(UTC) - oldest).total_seconds())

    async def queues(self) -> list[str]:
        return sorted(q for q, items in self._items.items() if items)

    async def get_chat_administrators(self, chat_id: int) -> list[int]:
        return list(self.admins.get(chat_id, []))

    async def close(self) -> None:
        return None

    def payloads(self, queue: str) -> list[dict[str, Any]]:
        return [item.payload for item in self._items[queue].values()]


@dataclass
class Call:
    method: str
    chat_id: int | None
    params: dict[str, Any]


@dataclass
class RecordingGateway:
    """A TelegramGateway that records calls and raises scripted errors."""

    calls: list[Call] = field(default_factory=list)
    # (method, chat id or None for any chat, error), each raised once, in order
    errors: list[tuple[str, int | None, Exception]] = field(default_factory=list)
    _ids: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    admins: dict[int, list[int]] = field(default_factory=dict)

    def _maybe_fail(self, method: str, chat_id: int | None = None) -> None:
        for position, (failing, chat, error) in enumerate(self.errors):
            if failing == method and chat in (None, chat_id):
                del self.errors[position]
                raise error

    def _sent(self, method: str, chat_id: int, **params: Any) -> port.SentMessage:
        self._maybe_fail(method, chat_id)
        self.calls.append(Call(method, chat_id, params))
        self._ids[chat_id] += 1
        return port.SentMessage(chat_id, self._ids[chat_id])

    def sent_to(self, chat_id: int) -> list[Call]:
        return [c for c in self.calls if c.chat_id == chat_id]

    async def get_me(self) -> dict[str, Any]:
        return {"id": 999000, "is_bot": True, "first_name": "Shagym", "username": "shagym_test_bot"}

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        return []

    async def set_webhook(self, url: str, *, secret_token: str | None, allowed_updates: list[str]) -> None:
        self.calls.append(Call("setWebhook", None, {"url": url}))

    async def delete_webhook(self) -> None:
        return None

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
        return self._sent(
            "sendMessage",
            chat_id,
            text=text,
            keyboard=keyboard,
            reply_to=reply_to_message_id,
            reply_keyboard=reply_keyboard,
        )

    async def send_photo(
        self, chat_id: int, photo: str, *, caption: str | None = None, keyboard: port.Keyboard | None = None
    ) -> port.SentMessage:
        return self._sent("sendPhoto", chat_id, photo=photo, caption=caption, keyboard=keyboard)

    async def send_media_group(self, chat_id: int, photos: list[str]) -> list[port.SentMessage]:
        return [self._sent("sendMediaGroup", chat_id, photos=photos)]

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, *, caption: str | None = None
    ) -> port.SentMessage:
        return self._sent("sendDocument", chat_id, filename=filename, caption=caption)

    async def edit_message_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: port.Keyboard | None = None
    ) -> None:
        self._maybe_fail("editMessageText", chat_id)
        self.calls.append(Call("editMessageText", chat_id, {"message_id": message_id, "text": text}))

    async def edit_message_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: port.Keyboard | None = None
    ) -> None:
        self._maybe_fail("editMessageCaption", chat_id)
        self.calls.append(Call("editMessageCaption", chat_id, {"message_id": message_id, "caption": caption}))

    async def edit_message_keyboard(
        self, chat_id: int, message_id: int, keyboard: port.Keyboard | None
    ) -> None:
        self.calls.append(Call("editMessageReplyMarkup", chat_id, {"message_id": message_id}))

    async def answer_callback(
        self, callback_id: str, text: str | None = None, *, alert: bool = False
    ) -> None:
        self.calls.append(Call("answerCallbackQuery", None, {"id": callback_id, "text": text}))

    async def get_chat_administrators(self, chat_id: int) -> list[int]:
        return list(self.admins.get(chat_id, []))

    async def close(self) -> None:
        return None
