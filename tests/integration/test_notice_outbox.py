"""The notice outbox: owed with the staff action, claimed once, retried later, given back on a stop."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram import TelegramForbidden, TelegramTransientError
from bot.workers.notices import NoticeSender
from storage.models import NoticeRow
from storage.uow import UnitOfWork
from tests.integration.test_repositories import complaint

Factory = async_sessionmaker[AsyncSession]
LEASE = timedelta(seconds=60)


async def _owe(session_factory: Factory, count: int) -> list[int]:
    async with UnitOfWork(session_factory) as uow:
        rows = [await uow.complaints.add(complaint(message_id=n)) for n in range(1, count + 1)]
        await uow.session.flush()
        for row in rows:
            await uow.notices.add(row.id, "taken")
        await uow.commit()
        return [row.id for row in rows]


async def _claim(session_factory: Factory, holder: str) -> list[int]:
    async with UnitOfWork(session_factory) as uow:
        notices = await uow.notices.claim(holder, limit=10, lease=LEASE, max_attempts=3)
        await uow.commit()
        return [notice.complaint_id for notice in notices]


async def test_a_notice_is_claimed_once_and_gone_when_done(session_factory: Factory) -> None:
    numbers = await _owe(session_factory, 3)
    assert await _claim(session_factory, "a") == numbers
    assert await _claim(session_factory, "b") == []
    async with UnitOfWork(session_factory) as uow:
        for notice in await _rows(uow):
            await uow.notices.done(notice.id)
        await uow.commit()
    async with UnitOfWork(session_factory) as uow:
        assert await uow.notices.counts() == {}


async def test_a_failed_notice_waits_and_is_parked_after_its_attempts(session_factory: Factory) -> None:
    (number,) = await _owe(session_factory, 1)
    for attempt in range(3):
        async with UnitOfWork(session_factory) as uow:
            (notice,) = await uow.notices.claim("a", limit=10, lease=LEASE, max_attempts=3)
            await uow.notices.failed(notice.id, "TelegramTransientError: 502", retry_in=LEASE, max_attempts=3)
            await uow.commit()
        assert await _claim(session_factory, "a") == []  # not before its retry time
        async with UnitOfWork(session_factory) as uow:  # the retry time comes
            await uow.session.execute(update(NoticeRow).values(claimed_until=None))
            await uow.commit()
        if attempt < 2:
            assert await _claim(session_factory, "b") == [number]
            async with UnitOfWork(session_factory) as uow:
                await uow.notices.release([n.id for n in await _rows(uow)], "b")
                await uow.commit()
    assert await _claim(session_factory, "a") == []
    async with UnitOfWork(session_factory) as uow:
        assert await uow.notices.counts() == {"failed": 1}


async def test_a_stopping_instance_gives_its_claims_back(session_factory: Factory) -> None:
    numbers = await _owe(session_factory, 2)
    assert await _claim(session_factory, "stopping") == numbers
    async with UnitOfWork(session_factory) as uow:
        rows = await _rows(uow)
        await uow.notices.release([rows[0].id], "someone-else")  # only the holder can give a claim back
        await uow.notices.release([row.id for row in rows], "stopping")
        await uow.commit()
    assert await _claim(session_factory, "next") == numbers


async def _rows(uow: UnitOfWork) -> list[NoticeRow]:
    return list((await uow.session.scalars(select(NoticeRow).order_by(NoticeRow.id))).all())


class Notifier:
    """Stands in for ResidentNotifier: answers each notice as Telegram would, from a script."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[int, str]] = []

    async def notify(
        self, complaint_id: int, event: str, *, comment: str | None = None, original: int | None = None
    ) -> bool:
        self.calls.append((complaint_id, event))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return True


def _sender(session_factory: Factory, notifier: Notifier) -> NoticeSender:
    return NoticeSender(
        lambda: UnitOfWork(session_factory),
        notifier,  # type: ignore[arg-type]
        holder="test",
        max_attempts=2,
    )


async def test_a_notice_telegram_did_not_take_is_kept_and_tried_later(session_factory: Factory) -> None:
    (number,) = await _owe(session_factory, 1)
    notifier = Notifier(TelegramTransientError("Bad Gateway", method="sendMessage"))
    sender = _sender(session_factory, notifier)
    assert await sender.run_once() == 1
    async with UnitOfWork(session_factory) as uow:
        (row,) = await _rows(uow)
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert row.claimed_until is not None  # not before its retry time
    assert await sender.run_once() == 0
    async with UnitOfWork(session_factory) as uow:  # the retry time comes
        await uow.session.execute(update(NoticeRow).values(claimed_until=None))
        await uow.commit()
    assert await sender.run_once() == 1
    async with UnitOfWork(session_factory) as uow:
        assert await _rows(uow) == []
    assert notifier.calls == [(number, "taken"), (number, "taken")] and sender.sent == 1


async def test_a_resident_who_blocked_the_bot_is_skipped(session_factory: Factory) -> None:
    await _owe(session_factory, 1)
    sender = _sender(session_factory, Notifier(TelegramForbidden("bot was blocked by the user")))
    assert await sender.run_once() == 1
    async with UnitOfWork(session_factory) as uow:
        assert await _rows(uow) == []
