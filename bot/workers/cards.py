"""A complaint's card in its department chat: sent once, recorded, refreshed after staff act.

An entry is acked only after the card's message id is recorded; once Telegram has the card, a database
outage is waited out, never answered with a resend. A complaint listed in a combined message
(`bot/workers/combined.py`) gets its listing re-rendered instead, or a card of its own when urgent or
opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import NamedTuple

from bot.config import Config
from bot.core import lifecycle
from bot.core.domain import ComplaintStatus
from bot.core.lifecycle import BEFORE_DELIVERY, LISTED, CardState
from bot.core.text import utf16_len
from bot.ops.retry import outlast
from bot.telegram import (
    CAPTION_LIMIT,
    Keyboard,
    SentMessage,
    TelegramBadRequest,
    TelegramError,
    TelegramGateway,
)
from bot.telegram.outbound import Outbound
from bot.views.cards import CardData, CardRenderer
from bot.views.i18n import t_html
from bot.workers.card_data import card_data, never_shown
from bot.workers.combined import CombinedMessages, Listing, find_listing
from bot.workers.delivery_stats import DeliveryStats
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class _Card(NamedTuple):
    """A card marked as being sent: what goes out, and what its send changes or undoes."""

    complaint_id: int
    text: str
    keyboard: Keyboard | None
    photos: list[str]
    created_at: datetime
    urgent: bool
    listing: Listing | None  # the combined message that listed it, whose line changes once it is sent
    previous: CardState | None  # the card state to restore if Telegram refuses
    repeat: bool  # sent again after a crash left its send unrecorded


class CardDelivery:
    """Sends (or refreshes) one complaint's card; used by the per-department workers."""

    def __init__(
        self,
        config: Config,
        gateway: TelegramGateway,
        renderer: CardRenderer,
        uow_factory: Callable[[], UnitOfWork],
        outbound: Outbound,
    ) -> None:
        self._config = config
        self._gateway = gateway
        self._renderer = renderer
        self._uow_factory = uow_factory
        self._outbound = outbound
        self.stats = DeliveryStats()
        self.combined = CombinedMessages(config, gateway, renderer, uow_factory, self.stats)

    async def deliver(self, complaint_id: int, department_id: str, settled: set[int] | None = None) -> bool:
        """Post or refresh the card; True when the queue entry can be acked. A complaint a crash left
        "sending" in a combined message goes out again with the rest of it, in one message; the others
        it lists are added to `settled` (their queue entries can be acked without a send)."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                log.warning("queued complaint %s no longer exists", complaint_id)
                return True
            if row.department_id != department_id:
                return True  # rerouted after it was queued; the new department has its own entry
            doubtful = lifecycle.card_in_doubt(row) and not row.urgent  # urgent: a card of its own
            batch = row.card_batch if doubtful else None
            card = None if batch is not None else await self._prepare(uow, row, department_id)
        if batch is not None:
            listed = await self.combined.resend(batch, department_id)
            if complaint_id in listed:
                if settled is not None:
                    settled.update(listed)
                return True
            # the only one of its message left (the others moved, or are urgent now): a card of its own
            async with self._uow_factory() as uow:
                row = await uow.complaints.get(complaint_id)
                if row is not None and row.department_id == department_id:
                    card = await self._prepare(uow, row, department_id)
        if card is None:
            return True  # edited in place, re-listed, or gone meanwhile
        return await self._send(card, department_id)

    async def _prepare(self, uow: UnitOfWork, row: ComplaintRow, department_id: str) -> _Card | None:
        """Edit a sent card or its listing (None: done), or render the card and mark it as being sent."""
        # a crash left its send unrecorded: Telegram may have the card already, so this one says so
        repeat = lifecycle.card_in_doubt(row)
        data = await card_data(uow, row)
        if repeat:
            data = replace(data, repeat=True)
        keyboard = self._renderer.keyboard(row.id, department_id, data.status)
        if (
            row.card_state == CardState.SENT
            and row.card_message_id is not None
            and row.card_chat_id is not None
        ):
            await self._edit_card(row.card_chat_id, row.card_message_id, data, keyboard)
            return None
        listing = None if never_shown(row) else await find_listing(uow, row.id)
        if row.card_state == CardState.COMBINED and not row.urgent and listing is not None:
            # listed in a combined message: that message shows the change; an urgent one (after an
            # edit) or one staff opened ("opening") gets a card of its own below
            await self.combined.refresh(listing, uow=uow)
            return None
        text = self._renderer.render(data)
        previous = lifecycle.card_sending(row)
        await uow.commit()
        photos = list(row.photos or ())
        return _Card(row.id, text, keyboard, photos, row.created_at, row.urgent, listing, previous, repeat)

    async def _send(self, card: _Card, department_id: str) -> bool:
        """Send a prepared card and record it (its listing and the head told after)."""
        department = self._config.department(department_id)
        complaint_id = card.complaint_id
        try:
            sent = await self._send_card(department.chat_id, card.text, card.keyboard, card.photos)
        except TelegramError:
            async with self._uow_factory() as uow:
                row = await uow.complaints.get(complaint_id)
                if row is not None and lifecycle.card_not_sent(row, card.previous):
                    await uow.commit()
            raise
        # Telegram has the card now: until its message id is recorded, a resend would post it twice,
        # so a database outage here is waited out (the card stays in hand), never answered with a resend
        record = partial(self._record_sent, complaint_id, sent, card.repeat)
        cap = self._config.delivery.max_backoff_seconds
        if not await outlast(log, f"card {complaint_id}: recording the sent card", record, cap=cap):
            return True
        self.stats.cards_sent += 1
        self.stats.card_latency.observe((utcnow() - card.created_at).total_seconds())
        if card.listing is not None:
            # its line in the combined message now says it has a card of its own (or moved)
            await self.combined.refresh(card.listing, quiet=True)
        if card.urgent and department.head is not None:
            lang = self._renderer.language_of(department_id)
            await self._outbound.send(
                department.head, f"{t_html('head.urgent', lang, number=complaint_id)}\n\n{card.text}"
            )
        return True

    async def _record_sent(self, complaint_id: int, sent: SentMessage, repeat: bool) -> bool:
        """Record the card's message id and mark the complaint delivered; False if it no longer exists."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                return False
            lifecycle.card_sent(row, sent.chat_id, sent.message_id, utcnow(), repeat=repeat)
            if row.status in BEFORE_DELIVERY:
                if row.status == ComplaintStatus.NEW.value:
                    await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
                await uow.complaints.change_status(
                    row,
                    ComplaintStatus.DELIVERED,
                    actor="system",
                    details={"chat_id": sent.chat_id, "message_id": sent.message_id},
                )
            await uow.commit()
        return True

    async def _send_card(
        self, chat_id: int, text: str, keyboard: Keyboard | None, photos: list[str]
    ) -> SentMessage:
        if photos:
            if utf16_len(text) <= CAPTION_LIMIT:
                return await self._gateway.send_photo(chat_id, photos[0], caption=text, keyboard=keyboard)
            await self._gateway.send_photo(chat_id, photos[0])  # the card follows as a message
        return await self._gateway.send_message(chat_id, text, keyboard=keyboard)

    async def refresh(self, complaint_id: int) -> None:
        """Re-render a delivered card after staff acted on it (status, who acted, buttons)."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None or row.card_chat_id is None or row.card_message_id is None:
                return
            if row.card_state == CardState.SENDING:
                # its card is being sent (its card_* still point at the combined message listing it):
                # the card goes out rendered fresh, and the worker then refreshes the listing
                return
            listing = await find_listing(uow, row.id) if row.card_state in LISTED else None
            if listing is not None:
                await self.combined.refresh(listing, uow=uow)
                return
            data = await card_data(uow, row)
            data = replace(data, status=row.status)
        keyboard = self._renderer.keyboard(row.id, row.department_id, row.status)
        await self._edit_card(row.card_chat_id, row.card_message_id, data, keyboard)

    async def _edit_card(
        self, chat_id: int, message_id: int, data: CardData, keyboard: Keyboard | None
    ) -> None:
        try:
            await self._gateway.edit_message_text(
                chat_id, message_id, self._renderer.render(data), keyboard=keyboard
            )
            self.stats.cards_edited += 1
        except TelegramBadRequest as exc:
            if "no text in the message" in exc.description.lower():
                # a photo card: its text is the caption
                caption = self._renderer.render(data, limit=CAPTION_LIMIT)
                try:
                    await self._gateway.edit_message_caption(chat_id, message_id, caption, keyboard=keyboard)
                    self.stats.cards_edited += 1
                except TelegramBadRequest as caption_exc:
                    log.info(
                        "card %s/%s caption not refreshed: %s", chat_id, message_id, caption_exc.description
                    )
                return
            # "message is not modified" and the like: nothing to fix
            log.info("card %s/%s not refreshed: %s", chat_id, message_id, exc.description)

    async def kinds(self, complaint_ids: Sequence[int], department_id: str) -> dict[int, str]:
        """How each queued complaint would go out now: "new" (a non-urgent card never sent, which may
        share a combined message), "urgent" (a card of its own, first), or "other" (an edit, a card
        staff asked for, or nothing)."""
        kinds: dict[int, str] = {}
        async with self._uow_factory() as uow:
            # the round's complaints in one query, not one per entry
            found = {row.id: row for row in await uow.complaints.get_many(set(complaint_ids))}
            for complaint_id in dict.fromkeys(complaint_ids):
                row = found.get(complaint_id)
                if row is None or row.department_id != department_id:
                    kinds[complaint_id] = "other"
                elif row.urgent and row.card_state in (None, CardState.SENDING, *LISTED):
                    kinds[complaint_id] = "urgent"
                elif CombinedMessages.combinable(row, department_id):
                    kinds[complaint_id] = "new"
                else:
                    kinds[complaint_id] = "other"
        return kinds
