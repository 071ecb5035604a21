"""`shagym classify`, `shagym eval` and `shagym train` through their argparse handlers."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path

import pytest

from bot.classifier import build_classifier
from bot.classifier.commands import add_commands
from bot.config import load_config
from storage import migrate
from storage.db import create_engine, create_session_factory
from storage.models import ComplaintEventRow, ComplaintRow
from tests.conftest import EXAMPLE_CONFIG
from tests.unit.test_classifier import trained_cache_dir

KEYS = {
    "complaint",
    "kind",
    "category",
    "department",
    "urgent",
    "district",
    "language",
    "confidence",
    "alternative",
}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model cache (trained once, shared with test_classifier)."""
    return trained_cache_dir(tmp_path_factory)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shagym")
    commands = parser.add_subparsers(dest="command", required=True)
    add_commands(commands)
    return parser


def _run(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: bytes | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    args = _parser().parse_args(argv)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = args.handler(args, stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_classify_one_text(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["classify", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)]
    code, out, _ = _run([*argv, "в Сарыарке пахнет газом в подъезде!"], monkeypatch)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == KEYS
    assert result["complaint"] is True
    assert (result["category"], result["department"], result["urgent"]) == ("gas", "utilities", True)
    assert result["district"] == "saryarka"


def test_classify_needs_text_or_jsonl(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _run(
        ["classify", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)], monkeypatch
    )
    assert code == 2
    assert out == ""
    assert "--jsonl" in err


def test_classify_jsonl_keeps_order_and_reports_bad_lines(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_text = ("нет воды третий день " * 600)[:10_000]
    lines = [
        json.dumps({"text": "третий день нет горячей воды, батареи холодные"}, ensure_ascii=False),
        json.dumps({"text": ""}),
        json.dumps({"text": long_text}, ensure_ascii=False),
        json.dumps({"text": "😂😂😂"}, ensure_ascii=False),
        "{not json",
        json.dumps({"message": "no text key"}),
        json.dumps({"text": 42}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({"text": "Спасибо, что починили лифт!", "id": 7}, ensure_ascii=False),
    ]
    stdin = ("\n".join(lines) + "\n").encode("utf-8") + b'{"text": "\xff\xfe broken utf-8"}\n'
    code, out, err = _run(
        ["classify", "--jsonl", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)],
        monkeypatch,
        stdin,
    )
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(lines) + 1
    ok = [0, 1, 2, 3, 9]
    for index in ok:
        assert set(results[index]) == KEYS, (index, results[index])
    for index in (4, 5, 6, 7, 8, 10):
        assert set(results[index]) == {"error"}, (index, results[index])
    assert results[0]["category"] == "heating"
    assert results[1]["complaint"] is False and results[1]["language"] == "unknown"
    assert results[3]["language"] == "unknown"
    assert results[9]["complaint"] is False
    assert "blank" in results[7]["error"]


def test_eval_json(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(
        ["eval", "--json", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)], monkeypatch
    )
    assert code == 0
    report = json.loads(out)
    assert report["complaint_f1"] >= 0.93
    assert len(report["categories"]) == 18
    assert set(report["confusion"]) == set(report["categories"])
    code, text, _ = _run(
        ["eval", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)], monkeypatch
    )
    assert code == 0
    assert "macro-F1" in text and "confusion" in text


async def _seed(url: str, text: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with create_session_factory(engine)() as session:
            complaint = ComplaintRow(
                source="group",
                chat_id=-100,
                message_id=1,
                text=text,
                language="ru",
                category="housing",
                department_id="housing_inspection",
            )
            session.add(complaint)
            await session.flush()
            session.add(
                ComplaintEventRow(
                    complaint_id=complaint.id,
                    actor="staff",
                    action="rerouted",
                    details={"category": "public_order", "previous_category": "housing"},
                )
            )
            await session.commit()
    finally:
        await engine.dispose()


def test_train_learns_from_staff_reroutings(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "в подъезде на 3 этаже опять стоят чужие велосипеды и коляски, пройти невозможно"
    before = build_classifier(load_config(EXAMPLE_CONFIG, environ={}), cache_dir=cache_dir).classify(text)
    assert before.category == "housing"
    url = f"sqlite+aiosqlite:///{tmp_path / 'shagym.db'}"
    asyncio.run(_seed(url, text))
    monkeypatch.setenv("SHAGYM_DATABASE_URL", url)
    config = load_config(EXAMPLE_CONFIG)
    cache = tmp_path / "cache"
    code, out, err = _run(
        ["train", "--json", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache)], monkeypatch
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["corrections"] == 1
    assert summary["corpus"] == summary["training"] - 1 + summary["held_out"]
    assert summary["metrics"]["complaint_f1"] >= 0.9
    # the bot's factory now loads the corrected model, and it routes the text as staff did
    classifier = build_classifier(config, cache_dir=cache)
    assert classifier.from_cache
    assert str(classifier.model_path) == summary["model"]
    assert classifier.classify(text).category == "public_order"


def test_train_reports_an_unreadable_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAGYM_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    code, out, err = _run(
        ["train", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(tmp_path)], monkeypatch
    )
    assert code == 1
    assert out == ""
    assert "database" in err
