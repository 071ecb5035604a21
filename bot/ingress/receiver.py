"""Getting updates in durably: filter in memory, write to the inbox, and only then confirm to Telegram.

aiogram's polling moves the offset as soon as it hands an update to a handler and its webhook handler
answers 200 before handling; both lose updates on a crash. Here the offset moves (`polling.py`) and the
webhook answers (`webhook.py`) only after the batch is in the inbox, so a crash can cause a redelivery
but never a loss.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.core.events import (
    MEMBERSHIP_KIND,
    CallbackPress,
    Event,
    IncomingMessage,
    MalformedUpdate,
    MembershipChange,
    parse_update,
)
from bot.core.mentions import MentionDetector
from bot.core.text import is_int64, storable_text
from handlers.router import Destination, Router
from storage.repositories import InboxItem
from storage.uow import UnitOfWork

# named for what it is rather than where it sits: operators filter their logs by it
log = logging.getLogger("bot.ingress")

# besides messages, the router takes button presses and the bot's own membership changes
_KEEP_KINDS = frozenset({"callback_query", MEMBERSHIP_KIND})
# Telegram's objects nest about ten levels (callback_query.message.reply_markup.inline_keyboard ...);
# a deeper body is hostile, and would hit the recursion limit when it is serialized for the inbox
MAX_DEPTH = 64


def refusal(raw: Any) -> str | None:
    """Why an update cannot be taken at all (nothing to key it on in the inbox), or None if it can."""
    if not isinstance(raw, dict):
        return "not a JSON object"
    if not is_int64(raw.get("update_id")):
        return "no integer update_id"
    if _deeper_than(raw, MAX_DEPTH):
        return f"nested deeper than {MAX_DEPTH} levels"
    return None


def _deeper_than(value: Any, limit: int) -> bool:
    # iterative: the point is to refuse what recursion cannot take
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


@dataclass(slots=True)
class IngressStats:
    """Counters of what came in and what was kept."""

    received: int = 0
    stored: int = 0
    dropped_untagged: int = 0
    dropped_other: int = 0
    refused: int = 0  # no update_id to key it on, or nested too deep: never stored
    malformed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class UpdateIngestor:
    """Decides in memory which updates matter and stores those in the inbox, all of a batch at once."""

    def __init__(
        self,
        config: Config,
        detector: MentionDetector,
        uow_factory: Callable[[], UnitOfWork],
        *,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._detector = detector
        self._uow_factory = uow_factory
        self._on_stored = on_stored
        self._router = Router(config)  # the inbox's: a message is kept if its handler acts on it
        self.stats = IngressStats()

    def select(self, raw: Any) -> InboxItem | None:
        """The inbox item for an update the bot acts on, or None for chatter we must not keep."""
        self.stats.received += 1
        reason = refusal(raw)
        if reason is not None:
            # polling cannot confirm it by offset either: the next stored update's offset passes it
            self.stats.refused += 1
            log.warning("update refused, not stored: %s", reason)
            return None
        try:
            event = parse_update(raw)
        except MalformedUpdate as exc:
            self.stats.malformed += 1
            update_id = raw["update_id"]
            log.warning("malformed update kept for inspection: %s", exc, extra={"update_id": update_id})
            return InboxItem(update_id=update_id, kind="malformed", payload=_storable_payload(raw))
        if isinstance(event, IncomingMessage):
            if not self._keeps(event):
                self.stats.dropped_untagged += 1
                return None
            kind = event.kind
            item = InboxItem(event.update_id, kind, _storable_payload(raw), event.chat.id, event.message_id)
        else:
            kind = _kind(event)
            if kind not in _KEEP_KINDS:
                self.stats.dropped_other += 1
                return None
            item = InboxItem(event.update_id, kind, _storable_payload(raw))
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        return item

    def _keeps(self, event: IncomingMessage) -> bool:
        destination = self._router.destination(event)
        if destination is Destination.RESIDENT:
            return event.sender is None or not event.sender.is_bot
        if self._router.asks_for_digest(event):
            return True
        if destination is Destination.DESK:
            # staff replying to the bot's cards (comments on a resolution)
            return event.reply_to is not None and not event.is_channel_post
        if destination is Destination.INTAKE:
            return bool(self._detector.detect(event))
        return False

    async def ingest(self, updates: Sequence[Any]) -> int:
        """Store the updates worth keeping in one transaction; return how many were new."""
        items = [item for item in (self.select(raw) for raw in updates) if item is not None]
        if not items:
            return 0
        async with self._uow_factory() as uow:
            new_ids = await uow.inbox.add_many(items)
            await uow.commit()
        self.stats.stored += len(new_ids)
        if new_ids and self._on_stored is not None:
            self._on_stored()
        return len(new_ids)


def _kind(event: Event) -> str:
    if isinstance(event, CallbackPress):
        return "callback_query"
    if isinstance(event, MembershipChange):
        return MEMBERSHIP_KIND
    return event.kind


def _storable_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The update as every database takes it: one value no column can hold (NaN, a lone surrogate)
    must not fail the whole batch's insert, and so stall the polling that retries it."""
    try:
        json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
        return payload
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        cleaned = _clean(payload)
        return cleaned if isinstance(cleaned, dict) else {"raw": repr(payload)[:10000]}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return repr(value)[:1000]
