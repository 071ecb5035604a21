"""Delivery workers: take complaints off each department's queue and post cards in its chat.

When a chat's rate budget is spent the entry goes back on the queue (visible as depth and age) instead
of meeting a 429; when the chat is unreachable (403, chat not found) the entry is parked, the admins are
told once, and nothing is lost. A busy chat (more new cards waiting than its budget lets out now) gets
urgent cards first and several non-urgent complaints in one combined message (`bot/workers/combined.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from bot.config import Config
from bot.ops.retry import Backoff
from bot.telegram import TelegramError, TelegramForbidden, TelegramRetryAfter, TelegramTransientError
from bot.telegram.outbound import Outbound
from bot.telegram.ratelimit import RateLimiter
from bot.views.i18n import DEFAULT_LANGUAGE, t
from bot.workers.cards import CardDelivery
from bot.workers.loops import run_rounds, wait_for_any
from storage.queues import DepartmentQueue, QueueEntry

log = logging.getLogger(__name__)


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
        await run_rounds(
            f"delivery {self._department.id}",
            self.run_once,
            stop=stop,
            pause=partial(wait_for_any, self.wake, stop, idle=self._idle),
            backoff=Backoff(cap=self._config.delivery.max_backoff_seconds),
            log=log,
            wake=(self.wake,),
        )

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
        # the entries this round finished, acked together when it ends (also when it fails midway:
        # an entry left unacked by a crash only comes back, and delivery is idempotent on card_state)
        done: list[str] = []
        try:
            return await self._deliver_round(batches, done)
        finally:
            if done:
                await self._queue.ack_many(self._department.id, done)

    async def _deliver_round(self, batches: list[list[QueueEntry]], done: list[str]) -> int:
        """Send the round's messages one after another (one in flight per chat), collecting in
        `done` the entries to ack; return how many entries were handled."""
        chat_id = self._department.chat_id
        handled = 0
        # complaints listed in a combined message a crash left unrecorded, just sent again as a whole:
        # their other entries of this round are done, with no message of their own
        settled: set[int] = set()
        for position, batch in enumerate(batches):
            if len(batch) == 1 and batch[0].payload.get("complaint_id") in settled:
                done.append(batch[0].id)
                handled += 1
                continue
            wait = self._limiter.reserve(chat_id)
            if wait > 0:
                # budget spent: the rest go back to wait on the queue, not into a 429
                rest = [entry for later in batches[position:] for entry in later]
                for entry in rest:
                    if entry.payload.get("complaint_id") in settled:
                        done.append(entry.id)
                    else:
                        await self._queue.release(self._department.id, entry.id, delay=wait)
                        self._delivery.stats.deferred += 1
                return handled
            if len(batch) == 1:
                await self._handle(batch[0], done, settled=settled)
            else:
                await self._handle_combined(batch, done)
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

    async def _handle_combined(self, batch: list[QueueEntry], done: list[str]) -> None:
        """Deliver a batch as one combined message; its first entry carries the usual error policy,
        the others are done once the message is recorded, or go back on the queue."""
        department_id = self._department.id
        lead = batch[0]
        listed: list[int] = []

        async def send(complaint_id: int) -> bool:
            numbers = [int(e.payload["complaint_id"]) for e in batch]
            listed.extend(await self._delivery.combined.deliver(numbers, department_id))
            if complaint_id in listed:
                return True
            # it could not be combined after all (it changed meanwhile, or too few were left)
            return await self._delivery.deliver(complaint_id, department_id)

        await self._handle(lead, done, send)
        for entry in batch[1:]:
            if entry.payload.get("complaint_id") in listed:
                done.append(entry.id)
            else:
                await self._queue.release(department_id, entry.id)

    async def _handle(
        self,
        entry: QueueEntry,
        done: list[str],
        send: Callable[[int], Awaitable[bool]] | None = None,
        *,
        settled: set[int] | None = None,
    ) -> None:
        """Deliver one entry (or, with `send`, what `send` delivers for it) and add it to `done`, or
        retry or park it; `settled` collects the complaints a combined message sent again for it lists."""
        queue_name = self._department.id
        complaint_id = entry.payload.get("complaint_id")
        if not isinstance(complaint_id, int):
            log.error("queue entry %s has no complaint id; dropped: %r", entry.id, entry.payload)
            done.append(entry.id)
            return
        try:
            if await (
                send(complaint_id) if send else self._delivery.deliver(complaint_id, queue_name, settled)
            ):
                done.append(entry.id)
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
