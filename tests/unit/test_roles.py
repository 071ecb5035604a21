"""`shagym run --role`: the role → loops table, the choice of a role, and the setups a split refuses."""

from __future__ import annotations

import io

import pytest

from bot.app import runtime
from bot.app.roles import LOOPS, ROLES, choose_role, role_problems
from bot.cli import build_parser, main
from bot.config import Config, load_config
from tests.conftest import EXAMPLE_CONFIG

POSTGRES = "postgresql+asyncpg://shagym@db.example/shagym"
EVERY_LOOP = {"ingress", "inbox", "notices", "scheduler", "delivery"}


def _config(database_url: str) -> Config:
    return load_config(EXAMPLE_CONFIG, environ={"SHAGYM_DATABASE_URL": database_url})


def test_all_runs_every_loop() -> None:
    assert LOOPS["all"] == EVERY_LOOP
    assert set(LOOPS) == set(ROLES)


def test_ingest_and_deliver_split_all_without_gaps_or_overlap() -> None:
    assert LOOPS["ingest"] | LOOPS["deliver"] == LOOPS["all"]
    assert not LOOPS["ingest"] & LOOPS["deliver"]


def test_ingest_receives_and_processes_but_never_delivers() -> None:
    assert LOOPS["ingest"] == {"ingress", "inbox", "notices"}


def test_deliver_sends_cards_and_runs_the_scheduler_but_never_receives() -> None:
    assert LOOPS["deliver"] == {"delivery", "scheduler"}


def test_the_option_wins_over_the_variable() -> None:
    assert choose_role("deliver", {"SHAGYM_ROLE": "ingest"}) == "deliver"
    assert choose_role(None, {"SHAGYM_ROLE": " ingest "}) == "ingest"
    assert choose_role(None, {"SHAGYM_ROLE": ""}) == "all"
    assert choose_role(None, {}) == "all"


def test_an_unknown_role_in_the_variable_is_named() -> None:
    with pytest.raises(ValueError, match="SHAGYM_ROLE: unknown role 'delivery'; known: all, ingest, deliver"):
        choose_role(None, {"SHAGYM_ROLE": "delivery"})


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///var/shagym.db", "sqlite+aiosqlite://"])
@pytest.mark.parametrize("role", ["ingest", "deliver"])
def test_a_split_on_sqlite_is_refused_naming_the_key(url: str, role: str) -> None:
    problems = role_problems(_config(url), role)  # type: ignore[arg-type]
    assert len(problems) == 1
    assert problems[0].startswith(f"storage.database_url: --role {role} ")
    assert "PostgreSQL" in problems[0]


@pytest.mark.parametrize("role", ROLES)
def test_postgresql_takes_every_role(role: str) -> None:
    assert role_problems(_config(POSTGRES), role) == []  # type: ignore[arg-type]


def test_all_on_sqlite_is_todays_single_process() -> None:
    assert role_problems(_config("sqlite+aiosqlite:///var/shagym.db"), "all") == []


def test_the_parser_takes_a_role_and_defaults_to_none() -> None:
    parser = build_parser()
    assert parser.parse_args(["run", "--role", "deliver"]).role == "deliver"
    assert parser.parse_args(["run"]).role is None  # then $SHAGYM_ROLE, then all


def test_the_parser_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "--role", "delivery"])
    assert exit_.value.code == 2
    assert "--role: invalid choice: 'delivery'" in capsys.readouterr().err


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The roles `shagym run` would have started the bot with (the bot itself is not run)."""
    roles: list[str] = []

    def fake_run_bot(config: Config, *, stderr: io.StringIO, role: str = "all") -> int:
        roles.append(role)
        return 0

    monkeypatch.setattr(runtime, "run_bot", fake_run_bot)
    monkeypatch.delenv("SHAGYM_ROLE", raising=False)
    monkeypatch.setenv("SHAGYM_DATABASE_URL", POSTGRES)
    return roles


def _run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["run", "--config", str(EXAMPLE_CONFIG), *argv], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def test_run_defaults_to_all(started: list[str]) -> None:
    assert _run() == (0, "")
    assert started == ["all"]


def test_run_takes_the_role_from_the_variable(started: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAGYM_ROLE", "deliver")
    assert _run() == (0, "")
    assert _run("--role", "ingest") == (0, "")
    assert started == ["deliver", "ingest"]


def test_run_refuses_an_unknown_variable(started: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAGYM_ROLE", "both")
    code, err = _run()
    assert code == 2
    assert "SHAGYM_ROLE: unknown role 'both'" in err
    assert started == []


def test_run_refuses_a_split_on_sqlite(started: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAGYM_DATABASE_URL", "sqlite+aiosqlite:///var/shagym.db")
    code, err = _run("--role", "deliver")
    assert code == 2
    assert err.startswith("storage.database_url: --role deliver ")
    assert started == []
    assert _run("--role", "all") == (0, "")
    assert started == ["all"]
