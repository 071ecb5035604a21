"""The duplicate check's candidates: only the columns it compares, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DuplicatesConfig
from bot.core.domain import ComplaintStatus
from bot.services.duplicates import DuplicateFinder
from storage.base import utcnow
from storage.repositories.complaints import Candidate
from storage.uow import UnitOfWork
from tests.integration.test_repositories import complaint


async def test_candidates_are_columns_of_open_complaints_of_the_same_category(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with UnitOfWork(session_factory) as uow:
        first = await uow.complaints.add(complaint(message_id=1, text="нет отопления, дом 5", district=None))
        second = await uow.complaints.add(complaint(message_id=2, text="дом 5 без отопления"))
        await uow.complaints.add(complaint(message_id=3, category="water"))
        await uow.complaints.add(complaint(message_id=4, department_id="transport_roads"))
        closed = await uow.complaints.add(complaint(message_id=5))
        await uow.complaints.change_status(closed, ComplaintStatus.REJECTED, actor="staff")
        await uow.complaints.add(complaint(message_id=6, created_at=now - timedelta(days=3)))
        mine = await uow.complaints.add(complaint(message_id=7))
        await uow.commit()
        ids = first.id, second.id, mine.id
    async with UnitOfWork(session_factory) as uow:
        found = await uow.complaints.similar_candidates(
            "utilities", "heating", now - timedelta(hours=1), exclude=ids[2]
        )
        # no ORM object was loaded for them: nothing in the session to track or flush
        assert len(uow.session.identity_map) == 0
    assert [c.id for c in found] == [ids[1], ids[0]]  # newest first
    assert all(type(c) is Candidate for c in found)
    newest = found[0]
    assert (newest.text, newest.district, newest.duplicate_of_id) == ("дом 5 без отопления", "saryarka", None)
    assert found[1].district is None
    assert abs(found[0].created_at - now) < timedelta(minutes=1)  # an aware UTC datetime


async def test_the_finder_picks_an_original_among_candidates() -> None:
    finder = DuplicateFinder(DuplicatesConfig())
    at = utcnow()
    new = complaint(id=10, text="Кенесары 17 нет горячей воды третий день")
    elsewhere = Candidate(1, "нет горячей воды третий день, Кенесары 17", "esil", None, at)
    merged = Candidate(2, "нет горячей воды третий день, Кенесары 17", "saryarka", 1, at)
    other_house = Candidate(3, "Кенесары 19 нет горячей воды третий день", "saryarka", None, at)
    same = Candidate(4, "третий день нет горячей воды, Кенесары 17", "saryarka", None, at)
    assert finder.best(new, [elsewhere, merged, other_house]) is None
    assert finder.best(new, [elsewhere, merged, other_house, same]) is same
