"""Delivery workers: take complaints off each department's queue and post cards in its chat.

An entry is acked only after the card's message id is recorded. When a chat's rate budget is spent
the entry goes back on the queue (visible as depth and age) instead of meeting a 429; when the chat
is unreachable (403, chat not found) the entry is parked, the admins are told once, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.cards import CAPTION_LIMIT, CardData, CardRenderer
from bot.config import Config
from bot.domain import ComplaintStatus
from bot.i18n import t
from bot.loops import wait_for_work
from bot.outbound import Outbound
from bot.ratelimit import RateLimiter
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
from bot.text import utf16_len
from storage.base import utcnow
from storage.models import ComplaintRow
from storage.queues import DepartmentQueue, QueueEntry
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DeliveryStats:
    """Counters for monitoring and benchmarks."""

    cards_sent: int = 0
    cards_edited: int = 0
    deferred: int = 0
    parked: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds from complaint creation to card
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

    async def card_data(self, uow: UnitOfWork, row: ComplaintRow) -> CardData:
        """Collect what the card shows."""
        chat = await uow.chats.get(row.chat_id)
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
            reopened=row.reopen_count,
            duplicates=row.duplicate_count,
            actor=await uow.complaints.last_staff_name(row.id),
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
            if row.card_state == "sent" and row.card_message_id is not None and row.card_chat_id is not None:
                await self._edit_card(row.card_chat_id, row.card_message_id, data, keyboard)
                return True
            text = self._renderer.render(data)
            # "sending" is recorded before the request so a crash leaves a trace of a possible send
            row.card_state = "sending"
            await uow.commit()
            photos = list(row.photos or ())
            created_at = row.created_at
            urgent = row.urgent
        try:
            sent = await self._send_card(department.chat_id, text, keyboard, photos)
        except TelegramError:
            async with self._uow_factory() as uow:
                row = await uow.complaints.get(complaint_id)
                if row is not None and row.card_state == "sending":
                    row.card_state = None  # Telegram answered: nothing was posted
                    await uow.commit()
            raise
        async with self._uow_factory() as uow:
            row = await uow.complaints.get(complaint_id)
            if row is None:
                return True
            row.card_state = "sent"
            row.card_chat_id = sent.chat_id
            row.card_message_id = sent.message_id
            row.delivered_at = utcnow()
            if row.status in (ComplaintStatus.NEW.value, ComplaintStatus.QUEUED.value):
                if row.status == ComplaintStatus.NEW.value:
                    await uow.complaints.change_status(row, ComplaintStatus.QUEUED, actor="system")
                await uow.complaints.change_status(
                    row,
                    ComplaintStatus.DELIVERED,
                    actor="system",
                    details={"chat_id": sent.chat_id, "message_id": sent.message_id},
                )
            await uow.commit()
        self.stats.cards_sent += 1
        self.stats.latencies.append((utcnow() - created_at).total_seconds())
        if len(self.stats.latencies) > 10000:
            del self.stats.latencies[:5000]
        if urgent and department.head is not None:
            lang = self._renderer.language_of(department_id)
            await self._outbound.send(
                department.head, f"{t('head.urgent', lang, number=complaint_id)}\n\n{text}"
            )
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
        """Deliver until `stop`; the card in hand is finished, the rest stay queued."""
        while not stop.is_set():
            worked = await self.run_once()
            if worked:
                continue
            await wait_for_work(self.wake, stop, self._idle)

    async def run_once(self) -> int:
        """Claim what the chat's budget allows and deliver it; return how many entries were handled."""
        chat_id = self._department.chat_id
        entries = await self._queue.claim(self._department.id, self._consumer, count=5)
        handled = 0
        for position, entry in enumerate(entries):
            wait = self._limiter.reserve(chat_id)
            if wait > 0:
                # budget spent: the rest go back to wait on the queue, not into a 429
                for rest in entries[position:]:
                    await self._queue.release(self._department.id, rest.id, delay=wait)
                self._delivery.stats.deferred += len(entries) - position
                return handled
            await self._handle(entry)
            handled += 1
        return handled

    async def _handle(self, entry: QueueEntry) -> None:
        queue_name = self._department.id
        complaint_id = entry.payload.get("complaint_id")
        if not isinstance(complaint_id, int):
            log.error("queue entry %s has no complaint id; dropped: %r", entry.id, entry.payload)
            await self._queue.ack(queue_name, entry.id)
            return
        try:
            if await self._delivery.deliver(complaint_id, queue_name):
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
                "ru",
                department=self._department.name.ru,
                chat_id=self._department.chat_id,
                reason=exc.description,
                depth=stats.depth,
            )
            await self._outbound.send(admin, text, html=False)
