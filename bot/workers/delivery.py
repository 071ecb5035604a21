"""Delivery workers: take complaints off each department's queue and post cards in its chat.

An entry is acked only after the card's message id is recorded. When a chat's rate budget is spent
the entry goes back on the queue (visible as depth and age) instead of meeting a 429; when the chat
is unreachable (403, chat not found) the entry is parked, the admins are told once, and nothing is lost.

A busy chat (more new cards waiting than its budget lets out now) gets several non-urgent complaints
in one combined message with an "open" button each; a complaint listed there has card_state
"combined" and its card_* columns point at that message, and its "combined" event in the audit log
names every complaint of the message, so the message can be re-rendered from any of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import NamedTuple

from bot.config import Config
from bot.core import lifecycle
from bot.core.domain import ComplaintSource, ComplaintStatus
from bot.core.lifecycle import BEFORE_DELIVERY, LISTED, CardState
from bot.core.text import utf16_len
from bot.telegram import (
    Keyboard,
    SentMessage,
    TelegramBadRequest,
    TelegramError,
    TelegramForbidden,
    TelegramGateway,
    TelegramRetryAfter,
    TelegramTransientError,
)
from bot.telegram.outbound import Outbound
from bot.telegram.ratelimit import RateLimiter
from bot.views.cards import CAPTION_LIMIT, CardData, CardRenderer, CombinedLine
from bot.views.i18n import DEFAULT_LANGUAGE, t, t_html
from bot.workers.loops import Backoff, outlast, wait_for_work
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.queues import DepartmentQueue, QueueEntry
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class Listing(NamedTuple):
    """A combined message: where it is, whose chat it was sent to, and the complaints it lists."""

    chat_id: int
    message_id: int
    department: str
    members: tuple[int, ...]


@dataclass(slots=True)
class DeliveryStats:
    """Counters for monitoring and benchmarks."""

    cards_sent: int = 0
    cards_edited: int = 0
    deferred: int = 0
    parked: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds from complaint creation to card
    combined_messages: int = 0  # messages that listed several complaints of a busy department
    combined_complaints: int = 0  # complaints delivered in them
    # (department, kind) -> failed attempts; kind: rate_limited, forbidden, transient, refused
    failures: dict[tuple[str, str], int] = field(default_factory=dict)

    def count_failure(self, department: str, kind: str) -> None:
        """Count one failed card attempt for the metrics endpoint."""
        self.failures[(department, kind)] = self.failures.get((department, kind), 0) + 1


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

    async def card_data(self, uow: UnitOfWork, row: ComplaintRow, *, phone: bool = True) -> CardData:
        """Collect what the card shows (`phone`: the resident's shared phone, for a card of its own)."""
        chat = await uow.chats.get(row.chat_id)
        shared = None
        if phone and row.source == ComplaintSource.PRIVATE.value and row.resident_id is not None:
            # one lookup by primary key; erasure and expiry clear resident_id, so the phone goes with it
            resident = await uow.residents.get(row.resident_id)
            shared = resident.phone if resident is not None else None
        return CardData(
            number=row.id,
            text=row.text,
            category=row.category,
            department=row.department_id,
            urgent=row.urgent,
            district=row.district,
            status=row.status
            if row.status != ComplaintStatus.QUEUED.value
            else ComplaintStatus.DELIVERED.value,
            source=row.source,
            chat_id=row.chat_id,
            message_id=row.message_id,
            chat_username=row.chat_username,
            chat_title=chat.title if chat else None,
            author=row.author_name,
            officials=tuple(row.officials or ()),
            photos=len(row.photos or ()),
            has_location=row.latitude is not None,
            needs_triage=row.needs_triage,
            confidence=row.confidence,
            alternative_category=row.alternative_category,
            alternative_confidence=row.alternative_confidence,
            reopened=row.reopen_count,
            duplicates=row.duplicate_count,
            actor=await uow.complaints.last_staff_name(row.id),
            phone=shared,
        )

    async def deliver(self, complaint_id: int, department_id: str) -> bool:
        """Post or refresh the card; True when the queue entry can be acked."""
        department = self._config.department(department_id)
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                log.warning("queued complaint %s no longer exists", complaint_id)
                return True
            if row.department_id != department_id:
                return True  # rerouted after it was queued; the new department has its own entry
            data = await self.card_data(uow, row)
            keyboard = self._renderer.keyboard(row.id, department_id, data.status)
            if (
                row.card_state == CardState.SENT
                and row.card_message_id is not None
                and row.card_chat_id is not None
            ):
                await self._edit_card(row.card_chat_id, row.card_message_id, data, keyboard)
                return True
            listing = await self._listing(uow, row.id)
            if row.card_state == CardState.COMBINED and not row.urgent and listing is not None:
                # listed in a combined message: that message shows the change; an urgent one (after an
                # edit) or one staff opened ("opening") gets a card of its own below
                await self._refresh_listing(listing, uow=uow)
                return True
            text = self._renderer.render(data)
            previous_state = lifecycle.card_sending(row)
            await uow.commit()
            photos = list(row.photos or ())
            created_at = row.created_at
            urgent = row.urgent
        try:
            sent = await self._send_card(department.chat_id, text, keyboard, photos)
        except TelegramError:
            async with self._uow_factory() as uow:
                row = await uow.complaints.get(complaint_id)
                if row is not None and lifecycle.card_not_sent(row, previous_state):
                    await uow.commit()
            raise
        # Telegram has the card now: until its message id is recorded, a resend would post it twice,
        # so a database outage here is waited out (the card stays in hand), never answered with a resend
        record = partial(self._record_sent, complaint_id, sent)
        cap = self._config.delivery.max_backoff_seconds
        if not await outlast(log, f"card {complaint_id}: recording the sent card", record, cap=cap):
            return True
        self.stats.cards_sent += 1
        self.stats.latencies.append((utcnow() - created_at).total_seconds())
        if len(self.stats.latencies) > 10000:
            del self.stats.latencies[:5000]
        if listing is not None:
            # its line in the combined message now says it has a card of its own (or moved)
            await self._refresh_listing(listing, quiet=True)
        if urgent and department.head is not None:
            lang = self._renderer.language_of(department_id)
            await self._outbound.send(
                department.head, f"{t_html('head.urgent', lang, number=complaint_id)}\n\n{text}"
            )
        return True

    async def _record_sent(self, complaint_id: int, sent: SentMessage) -> bool:
        """Record the card's message id and mark the complaint delivered; False if it no longer exists."""
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                return False
            lifecycle.card_sent(row, sent.chat_id, sent.message_id, utcnow())
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
            listing = await self._listing(uow, row.id) if row.card_state in LISTED else None
            if listing is not None:
                await self._refresh_listing(listing, uow=uow)
                return
            data = await self.card_data(uow, row)
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
            for complaint_id in dict.fromkeys(complaint_ids):
                row = await uow.complaints.get(complaint_id)
                if row is None or row.department_id != department_id:
                    kinds[complaint_id] = "other"
                elif row.urgent and row.card_state in (None, CardState.SENDING, *LISTED):
                    kinds[complaint_id] = "urgent"
                else:
                    kinds[complaint_id] = "new" if self._combinable(row, department_id) else "other"
        return kinds

    @staticmethod
    def _combinable(row: ComplaintRow, department_id: str) -> bool:
        # "sending" (a crash mid-send) is left out: recovery sends such a card on its own
        return (
            row.card_state is None
            and not row.urgent
            and row.department_id == department_id
            and row.status in BEFORE_DELIVERY
        )

    async def deliver_combined(self, complaint_ids: Sequence[int], department_id: str) -> list[int]:
        """Post one message listing these complaints; return the ones it lists (the queue entries that
        can be acked), or [] when fewer than two can still be combined (nothing was sent)."""
        department = self._config.department(department_id)
        async with self._uow_factory() as uow:
            rows = []
            for complaint_id in dict.fromkeys(complaint_ids):
                row = await uow.complaints.get(complaint_id)
                if row is not None and self._combinable(row, department_id):
                    rows.append(row)
            if len(rows) < 2:
                return []
            lines = [CombinedLine(await self.card_data(uow, row, phone=False)) for row in rows]
            # a complaint listed before (in another department's chat, before it moved) is re-rendered there
            earlier = {listing for row in rows if (listing := await self._listing(uow, row.id))}
            text = self._renderer.render_combined(department_id, lines)
            keyboard = self._renderer.combined_keyboard(department_id, lines)
            for row in rows:
                lifecycle.card_sending(row)  # as for a card: a crash leaves a trace of a possible send
            await uow.commit()
            members = [row.id for row in rows]
        try:
            sent = await self._gateway.send_message(department.chat_id, text, keyboard=keyboard)
        except TelegramError:
            async with self._uow_factory() as uow:
                for complaint_id in members:
                    row = await uow.complaints.get(complaint_id)
                    if row is not None:
                        lifecycle.card_not_sent(row, None)  # Telegram answered: nothing was posted
                await uow.commit()
            raise
        # as for a card: once Telegram has the message, a database outage is waited out, never resent
        record = partial(self._record_combined, members, department_id, sent)
        cap = self._config.delivery.max_backoff_seconds
        await outlast(log, f"combined message {members}: recording it", record, cap=cap)
        # `latencies` stays one value per card in `cards_sent` (the metrics endpoint pairs them)
        self.stats.combined_messages += 1
        self.stats.combined_complaints += len(members)
        for listing in earlier:
            await self._refresh_listing(listing, quiet=True)
        log.info(
            "combined message sent",
            extra={"department": department_id, "complaints": len(members), "message_id": sent.message_id},
        )
        return members

    async def _record_combined(self, members: list[int], department_id: str, sent: SentMessage) -> None:
        """Point every listed complaint at the combined message and mark it delivered, in one commit."""
        where = {"chat_id": sent.chat_id, "message_id": sent.message_id}
        async with self._uow_factory() as uow:
            for complaint_id in members:
                row = await uow.complaints.get(complaint_id)
                if row is None or not lifecycle.card_combined(row, sent.chat_id, sent.message_id, utcnow()):
                    continue  # changed meanwhile (moved by an edit): it was queued again
                if row.status == ComplaintStatus.NEW.value:
                    await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
                if row.status == ComplaintStatus.QUEUED.value:
                    await uow.complaints.change_status(
                        row, ComplaintStatus.DELIVERED, actor="system", details={**where, "combined": True}
                    )
                await uow.complaints.log(
                    row,
                    "combined",
                    actor="system",
                    details={**where, "department": department_id, "members": members},
                )
            await uow.commit()

    async def _listing(self, uow: UnitOfWork, complaint_id: int) -> Listing | None:
        """The combined message that last listed this complaint, from its audit log."""
        for event in reversed(await uow.complaints.events(complaint_id)):
            if event.action == "combined":
                details = event.details
                return Listing(
                    int(details["chat_id"]),
                    int(details["message_id"]),
                    str(details["department"]),
                    tuple(int(n) for n in details["members"]),
                )
        return None

    async def _refresh_listing(
        self, listing: Listing, *, uow: UnitOfWork | None = None, quiet: bool = False
    ) -> None:
        """Re-render a combined message from its complaints' current state; `quiet`: log a failure
        instead of raising it (the message is only a listing, the complaints' cards are elsewhere)."""
        if uow is None:
            async with self._uow_factory() as own:
                lines = await self._listing_lines(own, listing)
        else:
            lines = await self._listing_lines(uow, listing)
        if not lines:
            return
        text = self._renderer.render_combined(listing.department, lines)
        keyboard = self._renderer.combined_keyboard(listing.department, lines)
        try:
            await self._gateway.edit_message_text(
                listing.chat_id, listing.message_id, text, keyboard=keyboard
            )
            self.stats.cards_edited += 1
        except TelegramBadRequest as exc:
            # "message is not modified" and the like: nothing to fix
            log.info("combined message %s not refreshed: %s", listing.message_id, exc.description)
        except TelegramError as exc:
            if not quiet:
                raise
            log.warning("combined message %s not refreshed: %s", listing.message_id, exc.description)

    async def _listing_lines(self, uow: UnitOfWork, listing: Listing) -> list[CombinedLine]:
        lines = []
        for complaint_id in listing.members:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                continue
            here = (row.card_chat_id, row.card_message_id) == (listing.chat_id, listing.message_id)
            if here and row.card_state in (*LISTED, CardState.SENDING):
                state = "waiting" if row.card_state == CardState.COMBINED else "opening"
            elif row.department_id != listing.department:
                state = "moved"
            else:
                state = "opened"
            lines.append(CombinedLine(await self.card_data(uow, row, phone=False), state))
        return lines


class DepartmentWorker:
    """Consumes one department's queue within that chat's rate budget."""

    def __init__(
        self,
        config: Config,
        department_id: str,
        queue: DepartmentQueue,
        delivery: CardDelivery,
        limiter: RateLimiter,
        outbound: Outbound,
        *,
        consumer: str,
        idle: float = 0.5,
    ) -> None:
        self._config = config
        self._department = config.department(department_id)
        self._queue = queue
        self._delivery = delivery
        self._limiter = limiter
        self._outbound = outbound
        self._consumer = consumer
        self._idle = idle
        self._parked_since: float | None = None
        self.wake = asyncio.Event()

    @property
    def department_id(self) -> str:
        """The department whose queue this worker consumes."""
        return self._department.id

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; the card in hand is finished, the rest stay queued.

        A round that fails (the queue or the database is away) is retried with backoff; an entry it
        had claimed and not acked comes back when its lease ends.
        """
        backoff = Backoff(cap=self._config.delivery.max_backoff_seconds)
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception as exc:
                await backoff.failed(log, f"delivery {self._department.id}", exc, stop)
                continue
            backoff.reset()
            if worked:
                continue
            await wait_for_work(self.wake, stop, self._idle)

    async def run_once(self) -> int:
        """Claim what the chat's budget allows and deliver it; return how many entries were handled.

        When more is waiting than the budget lets out now, urgent cards go first and, from
        `delivery.combine_min` on, new non-urgent cards go out together in one combined message.
        """
        chat_id = self._department.chat_id
        settings = self._config.delivery
        combining = settings.combine_min > 1
        count = max(5, settings.combine_max) if combining else 5
        entries = await self._queue.claim(self._department.id, self._consumer, count=count)
        batches = [[entry] for entry in entries]  # one message each
        if len(entries) > 1 and len(entries) > self._limiter.available(chat_id):
            batches = await self._plan(entries, combining=combining)
        handled = 0
        for position, batch in enumerate(batches):
            wait = self._limiter.reserve(chat_id)
            if wait > 0:
                # budget spent: the rest go back to wait on the queue, not into a 429
                rest = [entry for later in batches[position:] for entry in later]
                for entry in rest:
                    await self._queue.release(self._department.id, entry.id, delay=wait)
                self._delivery.stats.deferred += len(rest)
                return handled
            if len(batch) == 1:
                await self._handle(batch[0])
            else:
                await self._handle_combined(batch)
            handled += len(batch)
        return handled

    async def _plan(self, entries: list[QueueEntry], *, combining: bool) -> list[list[QueueEntry]]:
        """Order a busy chat's entries into messages: urgent cards first, then edits and cards staff
        asked for, then the new non-urgent cards — combined into one message when there are enough."""
        numbers = [n for e in entries if isinstance(n := e.payload.get("complaint_id"), int)]
        kinds = await self._delivery.kinds(numbers, self._department.id)

        def kind(entry: QueueEntry) -> str:
            number = entry.payload.get("complaint_id")
            return kinds.get(number, "other") if isinstance(number, int) else "other"

        urgent = [[e] for e in entries if kind(e) == "urgent"]
        fresh = [e for e in entries if kind(e) == "new"]
        distinct = list(dict.fromkeys(e.payload["complaint_id"] for e in fresh))
        if not combining or len(distinct) < self._config.delivery.combine_min:
            return urgent + [[e] for e in entries if kind(e) != "urgent"]
        chosen = set(distinct[: self._config.delivery.combine_max])
        combined = [e for e in fresh if e.payload["complaint_id"] in chosen]
        later = [[e] for e in fresh if e.payload["complaint_id"] not in chosen]
        other = [[e] for e in entries if kind(e) == "other"]
        return urgent + other + [combined] + later

    async def _handle_combined(self, batch: list[QueueEntry]) -> None:
        """Deliver a batch as one combined message; its first entry carries the usual error policy,
        the others are acked once the message is recorded, or go back on the queue."""
        department_id = self._department.id
        lead = batch[0]
        listed: list[int] = []

        async def send(complaint_id: int) -> bool:
            numbers = [int(e.payload["complaint_id"]) for e in batch]
            listed.extend(await self._delivery.deliver_combined(numbers, department_id))
            if complaint_id in listed:
                return True
            # it could not be combined after all (it changed meanwhile, or too few were left)
            return await self._delivery.deliver(complaint_id, department_id)

        await self._handle(lead, send)
        for entry in batch[1:]:
            if entry.payload.get("complaint_id") in listed:
                await self._queue.ack(department_id, entry.id)
            else:
                await self._queue.release(department_id, entry.id)

    async def _handle(self, entry: QueueEntry, send: Callable[[int], Awaitable[bool]] | None = None) -> None:
        """Deliver one entry (or, with `send`, what `send` delivers for it) and ack, retry or park it."""
        queue_name = self._department.id
        complaint_id = entry.payload.get("complaint_id")
        if not isinstance(complaint_id, int):
            log.error("queue entry %s has no complaint id; dropped: %r", entry.id, entry.payload)
            await self._queue.ack(queue_name, entry.id)
            return
        try:
            if await (send(complaint_id) if send else self._delivery.deliver(complaint_id, queue_name)):
                await self._queue.ack(queue_name, entry.id)
                self._parked_since = None
        except TelegramRetryAfter as exc:
            self._delivery.stats.count_failure(queue_name, "rate_limited")
            self._limiter.penalise(self._department.chat_id, exc.retry_after)
            await self._queue.release(queue_name, entry.id, delay=exc.retry_after)
        except TelegramForbidden as exc:
            self._delivery.stats.parked += 1
            self._delivery.stats.count_failure(queue_name, "forbidden")
            await self._queue.release(queue_name, entry.id, delay=self._config.delivery.park_seconds)
            await self._report_unreachable(exc)
        except TelegramTransientError as exc:
            delay = min(2.0 ** min(entry.attempts, 10), self._config.delivery.max_backoff_seconds)
            log.warning("card %s: transient error, retry in %.0fs: %s", complaint_id, delay, exc.description)
            self._delivery.stats.errors += 1
            self._delivery.stats.count_failure(queue_name, "transient")
            await self._queue.release(queue_name, entry.id, delay=delay)
        except TelegramError as exc:
            log.error("card %s refused by Telegram, parked: %s", complaint_id, exc.description)
            self._delivery.stats.errors += 1
            self._delivery.stats.count_failure(queue_name, "refused")
            await self._queue.release(queue_name, entry.id, delay=self._config.delivery.park_seconds)

    async def _report_unreachable(self, exc: TelegramError) -> None:
        if self._parked_since is not None:
            return  # told once per outage
        self._parked_since = time.monotonic()
        stats = await self._queue.stats(self._department.id)
        log.error(
            "department chat unreachable; cards stay queued",
            extra={
                "department": self._department.id,
                "chat_id": self._department.chat_id,
                "reason": exc.description,
            },
        )
        for admin in self._config.telegram.admins:
            text = t(
                "admin.chat_unreachable",
                DEFAULT_LANGUAGE,
                department=self._department.name.ru,
                chat_id=self._department.chat_id,
                reason=exc.description,
                depth=stats.depth,
            )
            await self._outbound.send(admin, text, html=False)
