"""Working-day deadlines, duplicate similarity and once-only scheduling."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.config import Config, DuplicatesConfig
from bot.core.deadlines import DeadlinePolicy, WorkingCalendar
from bot.core.schedule import Job
from bot.services.duplicates import DuplicateFinder, similarity
from bot.workers.scheduler import Scheduler
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.models import ComplaintRow
from storage.uow import UnitOfWork


def test_calendar_skips_weekends_and_kazakh_holidays() -> None:
    calendar = WorkingCalendar(holidays=[date(2026, 5, 27)], workdays=[date(2026, 1, 3)])
    assert not calendar.is_working_day(date(2026, 3, 21))  # Nauryz
    assert not calendar.is_working_day(date(2026, 12, 16))  # Independence Day
    assert not calendar.is_working_day(date(2026, 11, 28))  # a Saturday
    assert not calendar.is_working_day(date(2026, 5, 27))  # configured (Kurban Ait)
    assert calendar.is_working_day(date(2026, 1, 3))  # a Saturday made working by a transfer
    # Friday 20 March 2026 + 3 working days skips the weekend and Nauryz (21-23) → Thursday 26th
    assert calendar.add_working_days(date(2026, 3, 20), 3) == date(2026, 3, 26)


def test_deadline_in_hours_or_working_days(example_config: Config) -> None:
    created = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)  # 11:00 in Astana, a Friday
    policy = DeadlinePolicy(example_config)
    assert policy.deadline(created, "heating", "utilities") == created + timedelta(hours=24)
    data = example_config.model_dump(by_alias=True)
    data["categories"][0]["sla_working_days"] = 3  # roads
    policy = DeadlinePolicy(Config.model_validate(data))
    due = policy.deadline(created, "roads", "transport_roads")
    assert due is not None
    local = due.astimezone(example_config.tz)
    assert (local.date(), local.hour) == (date(2026, 3, 26), 18)


def test_similarity_of_reports_about_the_same_problem() -> None:
    same = similarity(
        "@akim_astana на Кенесары 17 нет горячей воды третий день!!!",
        "Кенесары 17, третий день нет горячей воды 😡",
    )
    different_house = similarity("нет горячей воды в доме 5", "нет горячей воды в доме 7")
    unrelated = similarity("нет горячей воды в доме 5", "яма на дороге у школы")
    assert same > 0.5
    assert different_house == 0.0
    assert unrelated < 0.2


def test_finder_needs_the_same_district() -> None:
    finder = DuplicateFinder(DuplicatesConfig())
    new = ComplaintRow(id=10, text="Кенесары 17 нет горячей воды третий день", district="saryarka")
    same = ComplaintRow(id=1, text="нет горячей воды третий день, Кенесары 17", district="saryarka")
    elsewhere = ComplaintRow(id=2, text="нет горячей воды третий день, Кенесары 17", district="esil")
    assert finder.best(new, [elsewhere]) is None
    assert finder.best(new, [elsewhere, same]) is same


async def test_two_schedulers_run_a_slot_once(tmp_path: Path, example_config: Config) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    runs: list[str] = []

    async def record(slot: datetime) -> None:
        runs.append(slot.isoformat())

    job = Job("digest:akim", record, cron="0 9 * * *")
    slot = job.next_after(datetime(2026, 11, 23, 0, 0, tzinfo=UTC), example_config.tz)
    assert slot.astimezone(example_config.tz).hour == 9
    first = Scheduler([job], lambda: UnitOfWork(factory), example_config.tz, owner="a")
    second = Scheduler([job], lambda: UnitOfWork(factory), example_config.tz, owner="b")
    results = [await first.run_slot(job, slot), await second.run_slot(job, slot)]
    assert results == [True, False]
    assert len(runs) == 1
    interval = Job("deadlines", record, every=timedelta(minutes=5))
    after = interval.next_after(datetime(2026, 11, 23, 10, 2, tzinfo=UTC), example_config.tz)
    assert after == datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    await engine.dispose()
