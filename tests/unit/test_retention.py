"""Retention rules that need no bot: phone redaction, finding a user in raw updates, config, the CLI."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, RetentionConfig, parse_config
from bot.services.retention import DataEraser, mentions_user, redact_phones
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.models import ComplaintRow, ResidentRow
from storage.uow import UnitOfWork


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Звоните +7 701 555 12 34, я дома", "Звоните […], я дома"),
        ("тел 87015551234", "тел […]"),
        ("8 (7172) 55-55-55 диспетчер", "[…] диспетчер"),
        ("+7(701)555-12-34", "[…]"),
        ("два номера: 87015551234 и 87015554321", "два номера: […] и […]"),
    ],
)
def test_phone_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact_phones(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Абая 10, кв 45, подъезд 3",
        "с 12.03.2025 нет воды",
        "координаты 51.128, 71.430",
        "счёт на 150 000 тенге",
        "дом 17/2, 5 этаж",
    ],
)
def test_other_numbers_stay(text: str) -> None:
    assert redact_phones(text) == text


def test_a_user_is_found_wherever_an_update_carries_them() -> None:
    me = {"id": 42, "is_bot": False, "first_name": "Айгерим"}
    assert mentions_user({"message": {"from": me, "text": "hi"}}, 42)
    assert mentions_user({"callback_query": {"from": me, "data": "r:send:1"}}, 42)
    assert mentions_user({"message": {"chat": {"id": 42, "type": "private", "first_name": "A"}}}, 42)
    assert mentions_user({"message": {"reply_to_message": {"from": me}}}, 42)
    assert mentions_user({"message": {"contact": {"phone_number": "+7701", "user_id": 42}}}, 42)
    assert mentions_user({"message": {"entities": [{"type": "text_mention", "user": me}]}}, 42)
    # the same number as a message id, a chat without names, or in a text is someone else
    assert not mentions_user({"message": {"message_id": 42, "text": "42", "from": {**me, "id": 7}}}, 42)
    assert not mentions_user({"message": {"chat": {"id": 42, "type": "group"}}}, 42)


def test_retention_config_defaults_and_validation() -> None:
    config = parse_config("city: Astana\n", environ={})
    assert config.retention == RetentionConfig()
    assert (config.retention.personal_data_days, config.retention.inbox_days) == (365, 30)
    assert config.retention.schedule == "30 3 * * *"
    text = "city: Astana\nretention:\n  inbox_days: 1\n  schedule: every night\n  keep: forever\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="c.yaml", environ={})
    issues = [issue.located("c.yaml") for issue in caught.value.issues]
    assert any(issue.startswith("c.yaml:3: retention.inbox_days:") for issue in issues), issues
    assert any("c.yaml:4: retention.schedule: 'every night' is not a valid cron" in i for i in issues), issues
    assert "c.yaml:5: retention.keep: unknown key (misspelled?)" in issues


def test_the_expiry_job_follows_the_schedule() -> None:
    def factory() -> UnitOfWork:
        raise AssertionError("not used")

    (job,) = DataEraser(RetentionConfig(schedule="0 2 * * *"), factory).jobs()
    assert (job.name, job.cron) == ("retention", "0 2 * * *")
    assert DataEraser(RetentionConfig(schedule=None), factory).jobs() == []


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"city: Astana\nstorage:\n  database_url: sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}\n")
    return path


async def _seed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await migrate.upgrade(engine)
    old = datetime.now(UTC) - timedelta(days=400)
    async with create_session_factory(engine)() as session:
        residents = [
            ResidentRow(
                telegram_user_id=user_id, full_name="R", phone="+7701", created_at=seen, last_seen_at=seen
            )
            for user_id, seen in ((700061, datetime.now(UTC)), (700062, old))
        ]
        session.add_all(residents)
        await session.flush()
        session.add(
            ComplaintRow(
                source="group",
                chat_id=-100,
                message_id=1,
                resident_id=residents[0].id,
                author_name="R",
                text="Нет воды, в работе",
                language="ru",
                category="water",
                department_id="utilities",
                status="in_progress",
            )
        )
        await session.commit()
    await engine.dispose()


async def _resident_ids(tmp_path: Path) -> set[int]:
    from sqlalchemy import select

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with create_session_factory(engine)() as session:
        ids = set((await session.scalars(select(ResidentRow.telegram_user_id))).all())
    await engine.dispose()
    return ids


def test_cli_erases_one_resident_and_runs_the_expiry_pass(tmp_path: Path) -> None:
    asyncio.run(_seed(tmp_path))
    config = str(_config_file(tmp_path))
    out = io.StringIO()
    assert main(["erase-resident", "700061", "--config", config], stdout=out) == 0
    text = out.getvalue()
    assert "erased the personal data of user 700061" in text
    assert "complaints without an author now: 1 (1 open)" in text
    assert "can no longer be notified" in text
    assert asyncio.run(_resident_ids(tmp_path)) == {700062}

    out = io.StringIO()
    assert main(["erase-resident", "700061", "--config", config], stdout=out) == 0
    assert "nothing is stored about user 700061" in out.getvalue()

    out = io.StringIO()
    assert main(["retention", "--now", "--config", config], stdout=out) == 0
    assert "residents: 1" in out.getvalue().splitlines()
    assert asyncio.run(_resident_ids(tmp_path)) == set()


def test_cli_rejects_a_user_id_that_is_not_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["erase-resident", "99999999999999999999999", "--config", str(_config_file(tmp_path))])
    assert "too large" in capsys.readouterr().err
