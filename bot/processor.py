"""Works the inbox: each stored update goes to its handler, in order, and is marked processed after.

Each instance claims rows for a lease before handling them; rows a crashed process had claimed come back
when the lease ends. Handlers are idempotent on (chat id, message id), so even an update handled twice
never makes two complaints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from bot.events import CallbackPress, IncomingMessage, MalformedUpdate, is_digest_command, parse_update
from bot.loops import Backoff, is_outage, wait_for_work
from handlers.admin import on_digest_command, on_membership_change
from handlers.context import HandlerContext
from handlers.desk import on_card_button, on_staff_reply
from handlers.monitored import on_tagged_message
from handlers.private import on_private_message, on_resident_button
from storage.models import InboxRow

log = logging.getLogger(__name__)


class InboxProcessor:
    """Feeds inbox rows to handlers until stopped."""

    def __init__(
        self,
        ctx: HandlerContext,
        *,
        holder: str = "local",
        lease_seconds: float = 60.0,
        batch: int = 20,
        max_attempts: int = 5,
        idle: float = 1.0,
    ) -> None:
        self._ctx = ctx
        self._holder = holder
        self._lease = timedelta(seconds=lease_seconds)
        self._department_chats = frozenset(d.chat_id for d in ctx.config.departments)
        self._batch = batch
        self._max_attempts = max_attempts
        self._idle = idle
        self._wake = asyncio.Event()
        self.processed = 0
        self.latencies: list[float] = []

    def wake(self) -> None:
        """New rows are in the inbox."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Process pending rows until `stop`; the row in hand is finished before returning.

        A round that fails because the database, Redis or the Bot API is away is retried with backoff;
        its rows stay pending and are handled, in order, once the outage ends.
        """
        backoff = Backoff()
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception as exc:
                await backoff.failed(log, "inbox", exc, stop)
                continue
            backoff.reset()
            if handled:
                continue
            await wait_for_work(self._wake, stop, self._idle)

    async def run_once(self) -> int:
        """Claim a batch of pending rows and process it; return how many were handled.

        The claim keeps other instances off these rows (and off their chats) until the lease ends, so
        several instances share one inbox without handling an update twice.
        """
        async with self._ctx.unit_of_work() as uow:
            rows = list(
                await uow.inbox.claim(
                    self._holder, limit=self._batch, lease=self._lease, max_attempts=self._max_attempts
                )
            )
            await uow.commit()
        claimed_at = time.monotonic()
        waiting = rows
        while waiting:
            if time.monotonic() - claimed_at > self._lease.total_seconds() / 2:
                # a slow batch (Telegram's retries) renews its claim before the lease runs out, and
                # leaves any row another instance took meanwhile to that instance
                waiting = await self._renew(waiting)
                claimed_at = time.monotonic()
                if not waiting:
                    break
            await self.process(waiting[0])
            waiting = waiting[1:]
        return len(rows)

    async def _renew(self, rows: list[InboxRow]) -> list[InboxRow]:
        async with self._ctx.unit_of_work() as uow:
            held = await uow.inbox.renew([row.id for row in rows], self._holder, lease=self._lease)
            await uow.commit()
        return [row for row in rows if row.id in held]

    async def process(self, row: InboxRow) -> None:
        """Handle one row; a failure is recorded on the row and retried, then parked for a human."""
        started = time.perf_counter()
        try:
            if row.kind == "malformed":
                raise MalformedUpdate("stored as malformed when received")
            await self._dispatch(row)
        except MalformedUpdate as exc:
            log.warning("inbox row %s is malformed and parked: %s", row.id, exc)
            async with self._ctx.unit_of_work() as uow:
                await uow.inbox.record_failure(row.id, f"malformed: {exc}", max_attempts=1)
                await uow.commit()
            return
        except Exception as exc:
            if is_outage(exc):
                raise  # not the row's fault: it stays pending, without using up an attempt
            log.exception("inbox row %s (%s) failed", row.id, row.kind)
            async with self._ctx.unit_of_work() as uow:
                await uow.inbox.record_failure(
                    row.id, f"{type(exc).__name__}: {exc}", max_attempts=self._max_attempts
                )
                await uow.commit()
            return
        async with self._ctx.unit_of_work() as uow:
            await uow.inbox.mark_processed(row.id)
            await uow.commit()
        self.processed += 1
        self.latencies.append(time.perf_counter() - started)
        if len(self.latencies) > 10000:
            del self.latencies[:5000]

    async def _dispatch(self, row: InboxRow) -> None:
        if row.kind == "my_chat_member":
            await on_membership_change(row.payload, self._ctx)
            return
        event = parse_update(row.payload)
        if isinstance(event, IncomingMessage):
            if is_digest_command(event.text) and await on_digest_command(event, self._ctx):
                return
            if event.chat.is_private:
                await on_private_message(event, self._ctx)
            elif event.chat.id in self._department_chats:
                await on_staff_reply(event, self._ctx)
            else:
                await on_tagged_message(event, self._ctx)
        elif isinstance(event, CallbackPress):
            if event.data.startswith(("r:", "lang:")):
                await on_resident_button(event, self._ctx)
            else:
                await on_card_button(event, self._ctx)
