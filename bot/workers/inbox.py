"""Works the inbox: each stored update goes to its handler, one chat's updates in order, chats side by side.

Each instance claims rows for a lease before handling them; rows a crashed process had claimed come back
when the lease ends. Handlers are idempotent on (chat id, message id), so even an update handled twice
never makes two complaints.

Every chat gets its own lane (a task working that chat's rows in id order); lanes of different chats run
at the same time, up to `max_chats`, so one chat that is slow (a flood of messages, a reply waiting for
the chat's 1 message/s budget) never holds up another chat's complaint. A burst of one resident's private
messages goes into the draft together and is answered once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from bot.core.events import IncomingMessage, MalformedUpdate, is_digest_command, parse_update
from bot.ops.latency import PROCESS_BUCKETS, LatencyHistogram
from bot.ops.retry import Backoff, is_outage
from bot.workers.lanes import ChatKey, Lane, lane_key, take_run
from bot.workers.loops import run_rounds, wait_for_any
from handlers.context import HandlerContext
from handlers.private import on_private_messages
from handlers.router import Router
from storage.models import InboxRow

log = logging.getLogger(__name__)


class InboxProcessor:
    """Feeds inbox rows to handlers until stopped, one lane per chat."""

    def __init__(
        self,
        ctx: HandlerContext,
        *,
        holder: str = "local",
        lease_seconds: float = 60.0,
        batch: int = 20,
        max_attempts: int = 5,
        idle: float = 1.0,
        max_chats: int = 16,
        burst: int = 100,
    ) -> None:
        self._ctx = ctx
        self._holder = holder
        self._lease = timedelta(seconds=lease_seconds)
        self._router = Router(ctx.config)
        self._batch = batch
        self._max_attempts = max_attempts
        self._idle = idle
        self._max_chats = max(1, max_chats)
        self._burst = max(1, burst)
        self._wake = asyncio.Event()
        self._lane_done = asyncio.Event()
        self._lanes: dict[ChatKey, Lane] = {}
        self._outage: BaseException | None = None  # the error a lane stopped on, for the loop's backoff
        self._worked = False  # some lane finished its rows since the loop last looked
        self.processed = 0
        self.processing_seconds = LatencyHistogram(PROCESS_BUCKETS)  # read by the metrics endpoint

    def wake(self) -> None:
        """New rows are in the inbox."""
        self._wake.set()

    @property
    def in_hand(self) -> int:
        """Rows claimed and not yet handled, over all lanes."""
        return sum(len(lane.rows) for lane in self._lanes.values())

    async def run(self, stop: asyncio.Event) -> None:
        """Process pending rows until `stop`; each lane finishes the row in hand, the rest is left pending.

        A round that fails because the database, Redis or the Bot API is away is retried with backoff;
        its rows stay pending and are handled, in order, once the outage ends.
        """
        backoff = Backoff()
        try:
            await run_rounds(
                "inbox",
                partial(self._round, stop, backoff),
                stop=stop,
                # new rows, a lane that finished (room for another chat), `stop`, or the idle poll
                pause=partial(wait_for_any, self._wake, self._lane_done, stop, idle=self._idle),
                backoff=backoff,
                log=log,
                # a claim alone proves nothing (its lanes may meet the outage): `_round` resets the
                # backoff once rows were worked, or the inbox answered empty
                reset_each_round=False,
                wake=(self._wake, self._lane_done),
            )
        finally:
            await self._finish_lanes()

    async def _round(self, stop: asyncio.Event, backoff: Backoff) -> bool:
        """Start lanes for newly claimed rows; True when more may be waiting and there is room for them."""
        if self._outage is not None:
            failure, self._outage = self._outage, None
            raise failure  # a lane stopped on it: back off before its rows are taken again
        if self._worked:
            self._worked = False
            backoff.reset()
        if not self._has_room():
            return False
        claimed = await self._claim(stop)
        if not claimed and not self._lanes:
            backoff.reset()  # the inbox answers and is empty
        return bool(claimed) and self._has_room()

    async def run_once(self) -> int:
        """Claim a batch of pending rows and process it; return how many were handled.

        The claim keeps other instances off these rows (and off their chats) until the lease ends, so
        several instances share one inbox without handling an update twice. The batch's chats are
        worked side by side; an outage that stopped a lane is raised once all lanes are done.
        """
        claimed = await self._claim(asyncio.Event())
        await self._finish_lanes()
        if self._outage is not None:
            failure, self._outage = self._outage, None
            raise failure
        return claimed

    def _has_room(self) -> bool:
        return len(self._lanes) < self._max_chats and self.in_hand < self._max_chats * self._batch

    async def _claim(self, stop: asyncio.Event) -> int:
        """Claim rows of chats without a lane (at most `batch` per chat) and start their lanes."""
        busy = [key for key in self._lanes if key is not None]
        # a press names its chat only inside the update (its row has no chat), so leaving out the busy
        # chats does not leave out a press in hand: the ids do
        in_hand = [inbox_id for lane in self._lanes.values() for inbox_id in lane.in_hand()]
        rows = await self._claim_rows(per_chat=self._batch, skip_chats=busy, skip_ids=in_hand)
        for row in rows:
            key = lane_key(row)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = Lane(key)
                lane.task = asyncio.create_task(self._work(lane, stop), name=f"inbox-lane-{key}")
            lane.rows.append(row)
        return len(rows)

    async def _finish_lanes(self) -> None:
        tasks = [lane.task for lane in list(self._lanes.values()) if lane.task is not None]
        if not tasks:
            return
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise

    async def _work(self, lane: Lane, stop: asyncio.Event) -> None:
        """Work one chat's rows in order until none is left (more can join while it runs)."""
        claimed_at = time.monotonic()
        try:
            while lane.rows:
                if stop.is_set():
                    # a clean stop: the row in hand is done; the rest goes back for whoever runs next
                    await self._release([row.id for row in lane.rows])
                    lane.rows.clear()
                    break
                if time.monotonic() - claimed_at > self._lease.total_seconds() / 2:
                    # a slow lane (Telegram's retries, the chat's rate budget) renews its claim before the
                    # lease runs out, and leaves any row another instance took meanwhile to that instance
                    held = await self._renew([row.id for row in lane.rows])
                    lane.rows = deque(row for row in lane.rows if row.id in held)
                    claimed_at = time.monotonic()
                    continue
                burst = take_run(lane, self._private_message, self._burst)
                run = [] if burst else take_run(lane, self._intake_message, distinct=True, room=self._burst)
                if burst:
                    lane.busy = [row.id for row, _ in burst]
                    await self._process_burst(lane, burst, stop)
                elif len(run) > 1:
                    lane.busy = [row.id for row, _ in run]
                    await self._process_intake_run(run)
                else:
                    row = run[0][0] if run else lane.rows.popleft()
                    lane.busy = [row.id]
                    await self.process(row)
                lane.busy = []
            self._worked = True
        except Exception as exc:
            # an outage (or a failure to record a row): the rows left stay claimed by this instance, and
            # the loop takes them again, in order, after its backoff
            self._outage = exc
        finally:
            self._lanes.pop(lane.key, None)
            self._lane_done.set()

    @staticmethod
    def _private_message(row: InboxRow) -> IncomingMessage | None:
        if row.kind != "message" or row.chat_id is None or row.chat_id <= 0:
            return None
        try:
            event = parse_update(row.payload)
        except Exception:
            return None  # handled on its own, where a malformed row is parked
        if not isinstance(event, IncomingMessage) or not event.chat.is_private:
            return None
        return None if is_digest_command(event.text) else event

    def _intake_message(self, row: InboxRow) -> IncomingMessage | None:
        if row.kind == "malformed" or row.chat_id is None:
            return None
        try:
            event = parse_update(row.payload)
        except Exception:
            return None  # handled on its own, where a malformed row is parked
        message = self._router.for_intake(event)
        return message if message is not None and message.chat.id == row.chat_id else None

    async def _process_intake_run(self, run: list[tuple[InboxRow, IncomingMessage]]) -> None:
        """File a run of one chat's tagged messages at once (one classifier call, one transaction).

        A failure that is not an outage falls back to handling the rows one by one, so the row at fault is
        recorded and parked as on its own and the others are filed (what the run stored is found again).
        """
        started = time.perf_counter()
        try:
            await self._router.route_intake_run([event for _, event in run], self._ctx)
        except Exception as exc:
            if is_outage(exc):
                raise  # not the rows' fault: they stay pending, and a redelivered message changes nothing
            log.exception("a run of %d tagged inbox rows failed; handling them one by one", len(run))
            for row, _ in run:
                await self.process(row)
            return
        await self._mark_processed([row for row, _ in run], started)

    async def _mark_processed(self, rows: list[InboxRow], started: float) -> None:
        async with self._ctx.unit_of_work() as uow:
            await uow.inbox.mark_processed_many([row.id for row in rows])
            await uow.commit()
        elapsed = time.perf_counter() - started
        self.processed += len(rows)
        for _ in rows:
            self.processing_seconds.observe(elapsed)

    async def _process_burst(
        self, lane: Lane, burst: list[tuple[InboxRow, IncomingMessage]], stop: asyncio.Event
    ) -> None:
        """Put a burst of one resident's messages into the draft and answer once, then mark them done.

        Before answering, the rest of the chat's burst already in the inbox is taken in too, so a
        resident who sends many messages at once gets one summary (edited later) rather than many.
        """
        started = time.perf_counter()
        while len(burst) < self._burst and not lane.rows and not stop.is_set() and lane.key is not None:
            more = await self._claim_chat(lane.key, lane.in_hand())
            if not more:
                break
            lane.rows.extend(more)
            burst.extend(take_run(lane, self._private_message, self._burst - len(burst)))
            lane.busy = [row.id for row, _ in burst]
        if len(burst) == 1:
            await self.process(burst[0][0])
            return
        try:
            await on_private_messages([event for _, event in burst], self._ctx)
        except Exception as exc:
            if is_outage(exc):
                raise  # not the rows' fault: they stay pending; their drafts skip what they took in
            log.exception("a burst of %d inbox rows failed; handling them one by one", len(burst))
            for row, _ in burst:
                await self.process(row)
            return
        await self._mark_processed([row for row, _ in burst], started)

    async def _claim_chat(self, chat_id: int, in_hand: list[int]) -> list[InboxRow]:
        return await self._claim_rows(chat_id=chat_id, skip_ids=in_hand)

    async def _claim_rows(
        self,
        *,
        per_chat: int | None = None,
        chat_id: int | None = None,
        skip_chats: Sequence[int] = (),
        skip_ids: Sequence[int] = (),
    ) -> list[InboxRow]:
        async with self._ctx.unit_of_work() as uow:
            rows = list(
                await uow.inbox.claim(
                    self._holder,
                    limit=self._batch,
                    lease=self._lease,
                    max_attempts=self._max_attempts,
                    per_chat=per_chat,
                    chat_id=chat_id,
                    skip_chats=skip_chats,
                    skip_ids=skip_ids,
                )
            )
            await uow.commit()
        return rows

    async def _renew(self, inbox_ids: list[int]) -> set[int]:
        async with self._ctx.unit_of_work() as uow:
            held = await uow.inbox.renew(inbox_ids, self._holder, lease=self._lease)
            await uow.commit()
        return held

    async def _release(self, inbox_ids: list[int]) -> None:
        if not inbox_ids:
            return
        async with self._ctx.unit_of_work() as uow:
            await uow.inbox.release(inbox_ids, self._holder)
            await uow.commit()

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
        self.processing_seconds.observe(time.perf_counter() - started)

    async def _dispatch(self, row: InboxRow) -> None:
        await self._router.route(parse_update(row.payload), self._ctx)
