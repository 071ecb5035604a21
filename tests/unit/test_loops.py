"""Loop helpers and loops under outages: what counts as an outage, what is logged, what is retried."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from bot.core.schedule import Job
from bot.ingress.polling import Poller
from bot.ops.retry import Backoff, describe, is_outage
from bot.telegram import TelegramBadRequest, TelegramError, TelegramRetryAfter, TelegramTransientError
from bot.workers.loops import run_rounds, supervise, wait_for_any
from bot.workers.notices import NoticeSender
from bot.workers.scheduler import Scheduler
from storage.queues import QueueEntry
from tests.unit.test_pipeline import UTILITIES_CHAT, Harness, harness, mention

__all__ = ["harness"]  # the fixture, shared with the pipeline tests

PERSONAL = "Айгерим +77011234567"


def sql_error(kind: type[sa_errors.DBAPIError], message: str) -> sa_errors.DBAPIError:
    return kind("INSERT INTO complaints (text) VALUES ($1)", (PERSONAL,), Exception(message))


@pytest.mark.parametrize(
    "error",
    [
        sql_error(sa_errors.OperationalError, "connection refused"),
        sql_error(sa_errors.InterfaceError, "connection is closed"),
        sa_errors.DBAPIError("SELECT 1", None, Exception("terminated"), connection_invalidated=True),
        redis_errors.ConnectionError("Error 111 connecting"),
        redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
        redis_errors.TimeoutError("Timeout reading from socket"),
        TelegramTransientError("Bad Gateway"),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
    ],
)
def test_outages_are_recognised(error: BaseException) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        sql_error(sa_errors.IntegrityError, "duplicate key value violates unique constraint"),
        redis_errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        TelegramBadRequest("Bad Request: message is too long"),
        TelegramError("the bot token was rejected (401 Unauthorized)"),
        ValueError("a bug"),
        FileNotFoundError("districts.geojson"),
    ],
)
def test_bugs_and_refusals_are_not_outages(error: BaseException) -> None:
    assert not is_outage(error)


def test_describe_never_shows_sql_parameters() -> None:
    text = describe(sql_error(sa_errors.OperationalError, "connection refused\nDETAIL: more"))
    assert text == "OperationalError (Exception: connection refused)"
    assert PERSONAL not in describe(sa_errors.StatementError("failed", "SELECT $1", (PERSONAL,), None))


async def test_backoff_doubles_up_to_its_cap_and_resets(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    stop.set()  # no real pauses in a unit test
    backoff = Backoff(first=0.5, cap=2.0)
    delays = []
    for _ in range(4):
        delays.append(backoff.delay)
        await backoff.failed(logging.getLogger("test"), "inbox", ConnectionRefusedError(111, "refused"), stop)
    assert delays == [0.5, 1.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.delay == 0.5 and backoff.failures == 0
    assert "inbox: ConnectionRefusedError: [Errno 111] refused; retrying in 0.5s" in caplog.text


async def test_supervise_restarts_a_loop_that_fails(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def loop(stop: asyncio.Event) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError("a bug")

    await supervise("inbox", loop, asyncio.Event(), logging.getLogger("test"), pause=0.01)
    assert calls == 3
    assert "inbox ended on an error, restarting it: RuntimeError: a bug" in caplog.text


async def test_run_rounds_goes_again_after_work_pauses_when_idle_and_backs_off_on_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    answers: list[int | Exception] = [2, ConnectionRefusedError(111, "refused"), 1, 0]
    seen: list[str] = []
    backoff = Backoff(first=0.01)

    async def round_() -> int:
        answer = answers.pop(0)
        seen.append(f"round {backoff.failures}")
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def pause() -> None:
        seen.append("pause")
        stop.set()

    log = logging.getLogger("test")
    await asyncio.wait_for(run_rounds("work", round_, stop=stop, pause=pause, backoff=backoff, log=log), 30)
    # the round after the failure still sees it counted; the one after that sees the backoff reset
    assert seen == ["round 0", "round 0", "round 1", "round 0", "pause"]
    assert "work: ConnectionRefusedError: [Errno 111] refused; retrying in 0.0s" in caplog.text


async def test_run_rounds_abandons_a_round_stuck_at_stop() -> None:
    stop = asyncio.Event()
    cancelled = asyncio.Event()
    abandoned: list[bool] = []

    async def stuck() -> int:
        stop.set()  # e.g. a shutdown while Telegram's retries go on
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    async def abandon() -> None:
        abandoned.append(cancelled.is_set())

    async def pause() -> None:
        raise AssertionError("no pause after an abandoned round")

    await asyncio.wait_for(
        run_rounds(
            "notices",
            stuck,
            stop=stop,
            pause=pause,
            backoff=Backoff(),
            log=logging.getLogger("test"),
            abandon=abandon,
        ),
        30,
    )
    assert abandoned == [True]  # cancelled first, then its claims given back


async def test_a_wake_while_a_round_runs_is_not_lost() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    wake.set()  # a signal from before the first round: that round's claim sees its work
    rounds = 0
    signalled: list[bool] = []

    async def round_() -> int:
        nonlocal rounds
        rounds += 1
        signalled.append(wake.is_set())
        if rounds == 1:
            wake.set()  # work signalled while this round claims, too late for its claim: it finds none
        else:
            stop.set()
        return 0

    # the idle poll is an hour: only the wake can start the second round
    pause = partial(wait_for_any, wake, stop, idle=3600)
    log = logging.getLogger("test")
    await asyncio.wait_for(
        run_rounds("work", round_, stop=stop, pause=pause, backoff=Backoff(), log=log, wake=(wake,)), 30
    )
    assert rounds == 2
    assert signalled == [False, False]  # each round starts cleared: only what comes during it is kept


async def test_a_card_queued_while_the_worker_claims_goes_out_without_waiting_for_the_poll(
    harness: Harness,
) -> None:
    (utilities,) = [w for w in harness.bot.workers if w.department_id == "utilities"]
    utilities._idle = 3600  # only the wake can start another round
    stop = asyncio.Event()
    claims = 0

    async def claim(queue: str, consumer: str, *, count: int = 10) -> list[QueueEntry]:
        nonlocal claims
        claims += 1
        entries = await harness.queue.claim(queue, consumer, count=count)
        if claims == 1:  # the queue was empty when it looked; a complaint is queued before it answers
            text = "@akim_astana нет горячей воды в доме 5 на улице Абая 50"
            await harness.feed(harness.update(text, message_id=77, entities=mention(text)))
        elif claims == 3:
            stop.set()
        return entries

    utilities._queue = Claiming(harness.queue, claim)  # type: ignore[assignment]
    await asyncio.wait_for(utilities.run(stop), 30)
    assert len(harness.gateway.sent_to(UTILITIES_CHAT)) == 1


class Claiming:
    """A queue whose `claim` the test replaces; everything else goes to `inner`."""

    def __init__(self, inner: object, claim: Any) -> None:
        self._inner = inner
        self.claim = claim

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FlakyGateway:
    """getUpdates returns whatever is not confirmed yet; records the offsets asked for."""

    def __init__(self, updates: list[dict[str, Any]], stop: asyncio.Event) -> None:
        self.updates = updates
        self.offsets: list[int | None] = []
        self.stop = stop

    async def delete_webhook(self) -> None:
        return None

    async def get_updates(
        self, *, offset: int | None, timeout: int, limit: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        self.offsets.append(offset)
        pending = [u for u in self.updates if offset is None or u["update_id"] >= offset]
        if not pending:
            self.stop.set()
        return pending


class FlakyIngestor:
    """The inbox is away for the first batch, then stores everything."""

    def __init__(self) -> None:
        self.attempts = 0
        self.stored: list[int] = []

    async def ingest(self, updates: list[dict[str, Any]]) -> int:
        self.attempts += 1
        if self.attempts == 1:
            raise sql_error(sa_errors.OperationalError, "connection refused")
        self.stored.extend(u["update_id"] for u in updates)
        return len(updates)


async def test_polling_does_not_confirm_a_batch_the_inbox_could_not_take() -> None:
    stop = asyncio.Event()
    gateway = FlakyGateway([{"update_id": 7}, {"update_id": 8}], stop)
    ingestor = FlakyIngestor()
    poller = Poller(gateway, ingestor, timeout=0)  # type: ignore[arg-type]
    await asyncio.wait_for(poller.run(stop), 30)
    # the failed batch was asked for again from the same offset, stored once, and only then confirmed
    assert gateway.offsets[:3] == [None, None, 9]
    assert ingestor.stored == [7, 8]
    assert poller.offset == 9


async def test_polling_waits_out_a_429_on_get_updates() -> None:
    stop = asyncio.Event()
    gateway = FlakyGateway([{"update_id": 1}], stop)
    answers: list[BaseException | None] = [TelegramRetryAfter("Too Many Requests: retry after 0", 0.0), None]
    real = gateway.get_updates

    async def get_updates(**kwargs: Any) -> list[dict[str, Any]]:
        error = answers.pop(0) if answers else None
        if error is not None:
            raise error
        return await real(**kwargs)

    gateway.get_updates = get_updates  # type: ignore[method-assign]
    ingestor = FlakyIngestor()
    ingestor.attempts = 1  # the inbox works
    await asyncio.wait_for(Poller(gateway, ingestor, timeout=0).run(stop), 30)  # type: ignore[arg-type]
    assert ingestor.stored == [1]


class FakeJobs:
    def __init__(self) -> None:
        self.claims: list[str] = []
        self.failures = 1

    async def claim(self, name: str, key: str, owner: str) -> bool:
        self.claims.append(key)
        if self.failures:
            self.failures -= 1
            raise sql_error(sa_errors.OperationalError, "the database system is starting up")
        return True

    async def finish(self, name: str, key: str) -> None:
        return None


class FakeUnitOfWork:
    def __init__(self, jobs: FakeJobs) -> None:
        self.jobs = jobs

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def commit(self) -> None:
        return None


async def test_a_scheduler_slot_whose_claim_failed_is_tried_again_not_skipped() -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    times = iter([start])
    jobs = FakeJobs()
    ran: list[datetime] = []
    stop = asyncio.Event()

    async def job(slot: datetime) -> None:
        ran.append(slot)
        stop.set()

    def clock() -> datetime:
        return next(times, start + timedelta(hours=1))  # the slot is due at once after the first look

    scheduler = Scheduler(
        [Job("deadlines", job, every=timedelta(minutes=5))],
        lambda: FakeUnitOfWork(jobs),  # type: ignore[arg-type, return-value]
        ZoneInfo("Asia/Almaty"),
        owner="test",
        clock=clock,
    )
    await asyncio.wait_for(scheduler.run(stop), 30)
    first_slot = "2026-11-23T09:05:00Z"
    assert jobs.claims[:2] == [first_slot, first_slot]
    assert ran == [start + timedelta(minutes=5)]


class WakingNotices:
    """A notice outbox that is empty; on the first claim a notice is committed while it looks."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.claims = 0
        self.sender: NoticeSender | None = None

    async def claim(self, holder: str, *, limit: int, lease: timedelta, max_attempts: int) -> list[object]:
        self.claims += 1
        if self.claims == 1:
            assert self.sender is not None
            self.sender.wake()
        else:
            self.stop.set()
        return []


class NoticesUnitOfWork(FakeUnitOfWork):
    def __init__(self, notices: WakingNotices) -> None:
        self.notices = notices

    async def __aenter__(self) -> NoticesUnitOfWork:
        return self


async def test_a_notice_committed_while_the_sender_claims_is_looked_for_at_once() -> None:
    stop = asyncio.Event()
    notices = WakingNotices(stop)
    sender = NoticeSender(
        lambda: NoticesUnitOfWork(notices),  # type: ignore[arg-type, return-value]
        None,  # type: ignore[arg-type]
        holder="test",
        idle=3600,  # only the wake can start another round
    )
    notices.sender = sender
    await asyncio.wait_for(sender.run(stop), 30)
    assert notices.claims == 2
