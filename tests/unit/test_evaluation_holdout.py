"""The register field, the second held-out set (never trained on) and routing metrics in `shagym eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.classifier.base import Classification, MessageContext
from bot.classifier.corpus import (
    CORPUS_DIR,
    HOLDOUT_DIR,
    Example,
    corpus_hash,
    load_corpus,
    load_holdout,
    split_corpus,
)
from bot.classifier.evaluation import NOT_A_COMPLAINT, routing_report
from tests.conftest import EXAMPLE_CONFIG
from tests.unit.test_classifier import trained_cache_dir
from tests.unit.test_classify_cli import _run


def _row(text: str, category: str = "roads", **extra: object) -> str:
    data: dict[str, object] = {
        "text": text,
        "complaint": category != "-",
        "kind": "complaint" if category != "-" else "question",
        "category": category if category != "-" else "other",
        "urgent": False,
        "language": "ru",
    }
    data.update(extra)
    return json.dumps(data, ensure_ascii=False)


def _write(path: Path, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- rows and loaders ---------------------------------------------------------------------------------------


def test_register_defaults_to_chat_and_is_validated(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", _row("яма на дороге"), _row("Повреждение люка", register="terse"))
    rows = load_corpus(tmp_path)
    assert [e.register for e in rows] == ["chat", "terse"]
    _write(tmp_path / "b.jsonl", _row("ещё одна яма", register="letter"))
    with pytest.raises(ValueError, match=r"b\.jsonl:1: register must be one of chat, formal, terse"):
        load_corpus(tmp_path)


def test_holdout_rows_must_name_their_register(tmp_path: Path) -> None:
    folder = tmp_path / "holdout"
    _write(folder / "x.jsonl", _row("Повреждение люка", register="terse"), _row("Яма на въезде"))
    with pytest.raises(ValueError, match=r"x\.jsonl:2: register"):
        load_holdout(folder)
    _write(folder / "x.jsonl", _row("Повреждение люка", register="terse"))
    assert [(e.text, e.register) for e in load_holdout(folder)] == [("Повреждение люка", "terse")]
    assert load_holdout(tmp_path / "missing") == []


def test_training_never_reads_the_holdout_folder(tmp_path: Path) -> None:
    _write(tmp_path / "part1.jsonl", _row("яма на дороге"), _row("автобус не пришёл", "public_transport"))
    before = load_corpus(tmp_path)
    _write(tmp_path / "holdout" / "h.jsonl", _row("Повреждение люка", register="terse"))
    after = load_corpus(tmp_path)
    assert after == before
    assert corpus_hash(after) == corpus_hash(before)
    assert [e.text for e in load_holdout(tmp_path / "holdout")] == ["Повреждение люка"]


def test_chat_rows_hash_as_before_the_register_existed() -> None:
    # old model caches stay valid: a chat row's hash ignores the new field, another register changes it
    row = Example("яма", True, "complaint", "roads", False, "ru")
    assert corpus_hash([row]) == corpus_hash(
        [Example("яма", True, "complaint", "roads", False, "ru", 1.0, "chat")]
    )
    assert corpus_hash([row]) != corpus_hash(
        [Example("яма", True, "complaint", "roads", False, "ru", 1.0, "terse")]
    )


def test_the_shipped_holdout_parses_and_is_disjoint_from_training() -> None:
    assert HOLDOUT_DIR.parent == CORPUS_DIR
    holdout = load_holdout()
    if not holdout:
        pytest.skip("bot/corpus/holdout has no rows yet")
    assert {e.register for e in holdout} <= {"formal", "terse"}
    training = load_corpus()
    train_split, held_split = split_corpus(training)
    texts = {e.text.strip() for e in holdout}
    assert not texts & {e.text.strip() for e in training}
    assert not texts & {e.text.strip() for e in train_split}
    assert len(train_split) + len(held_split) == len(training)


# --- routing metrics ----------------------------------------------------------------------------------------

DEPARTMENTS = {"roads": "transport_roads", "public_transport": "transport_roads", "waste": "city_environment"}


class _Stub:
    """Answers from a table: text → (complaint, category, urgent)."""

    def __init__(self, answers: dict[str, tuple[bool, str, bool]]) -> None:
        self.answers = answers

    def classify(self, text: str, context: MessageContext | None = None) -> Classification:
        complaint, category, urgent = self.answers[text]
        kind = "complaint" if complaint else "question"
        department = DEPARTMENTS.get(category, "general")
        return Classification(complaint, kind, category, department, urgent, None, "ru", 0.9)


def _ex(text: str, category: str, *, register: str, language: str = "ru", urgent: bool = False) -> Example:
    complaint = category != "-"
    return Example(
        text, complaint, "complaint" if complaint else "question", category if complaint else "other",
        urgent, language, register=register,
    )  # fmt: skip


def test_routing_counts_departments_not_categories() -> None:
    examples = [
        _ex("a", "roads", register="terse"),  # routed to public_transport: same department, right
        _ex("b", "roads", register="terse", urgent=True),  # not taken for a complaint: lost
        _ex("c", "waste", register="formal", language="kk"),  # right
        _ex("d", "waste", register="formal", urgent=True),  # wrong department
    ]
    stub = _Stub(
        {
            "a": (True, "public_transport", False),
            "b": (False, "roads", False),
            "c": (True, "waste", False),
            "d": (True, "roads", True),
        }
    )
    report = routing_report(stub, examples, DEPARTMENTS)
    overall = report.overall
    assert (overall.examples, overall.complaints, overall.urgent) == (4, 4, 2)
    assert overall.department_accuracy == 0.5  # a and c reached the right desk
    assert overall.department_accuracy_routed == 0.75  # b's category was right, but it went nowhere
    assert overall.category_accuracy == 0.5
    assert overall.complaint_recall == 0.75
    assert overall.complaint_precision is None  # no non-complaints: precision says nothing
    assert overall.urgent_recall == 0.5
    assert overall.department_confusion == {
        "city_environment": {"city_environment": 1, "transport_roads": 1},
        "transport_roads": {NOT_A_COMPLAINT: 1, "transport_roads": 1},
    }
    assert set(report.registers) == {"formal", "terse"}
    assert report.registers["terse"].department_accuracy == 0.5
    assert report.registers["formal"].department_accuracy == 0.5
    assert report.languages["kk"].department_accuracy == 1.0
    assert report.languages["kk"].urgent_recall is None


def test_routing_precision_where_non_complaints_exist() -> None:
    examples = [_ex("a", "roads", register="terse"), _ex("q", "-", register="terse")]
    stub = _Stub({"a": (True, "roads", False), "q": (True, "waste", False)})
    report = routing_report(stub, examples, DEPARTMENTS)
    assert report.overall.complaint_precision == 0.5
    assert report.overall.complaint_recall == 1.0
    assert report.overall.department_accuracy == 1.0
    assert json.loads(json.dumps(report.as_dict()))["overall"]["complaint_precision"] == 0.5


# --- shagym eval --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model cache (trained once, shared with test_classifier)."""
    return trained_cache_dir(tmp_path_factory)


def _holdout(folder: Path) -> Path:
    return _write(
        folder / "formal_terse_test.jsonl",
        _row("Повреждение асфальта на проезжей части", register="terse"),
        _row("Переполнены мусорные контейнеры во дворе", "waste", register="terse", language="ru"),
        _row(
            "Здравствуйте! Прошу принять меры: на ул. Жубанова 14 уже месяц не вывозят мусор, контейнеры "
            "переполнены, вокруг них свалка. Обращалась в КСК 12.03, ответа нет.",
            "waste",
            register="formal",
        ),
        _row("Jol shuńqyrlary, Qabanbai batyr", register="terse", language="kk"),
        _row("Когда начнётся отопительный сезон?", "-", register="terse"),
    ).parent


def test_eval_reports_both_sets(cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _holdout(tmp_path / "holdout")
    argv = [
        "eval",
        "--config",
        str(EXAMPLE_CONFIG),
        "--cache-dir",
        str(cache_dir),
        "--holdout-dir",
        str(folder),
    ]
    code, out, err = _run([*argv, "--json"], monkeypatch)
    assert code == 0, err
    report = json.loads(out)
    # today's keys stay, for the chat split
    assert report["complaint_f1"] >= 0.93 and len(report["categories"]) == 18
    assert set(report["sets"]) == {"chat", "holdout"}
    chat, holdout = report["sets"]["chat"], report["sets"]["holdout"]
    assert chat["rows"] == report["examples"]
    # the corpus' own split holds every register the training rows have
    registers = set(chat["routing"]["registers"])
    assert "chat" in registers and registers <= {"chat", "formal", "terse"}
    assert holdout["rows"] == 5 and holdout["metrics"]["examples"] == 5
    routing = holdout["routing"]
    assert set(routing["registers"]) == {"formal", "terse"} and set(routing["languages"]) == {"kk", "ru"}
    overall = routing["overall"]
    assert overall["complaints"] == 4 and overall["complaint_precision"] is not None
    for key in ("department_accuracy", "category_accuracy", "complaint_recall", "urgent_recall"):
        assert key in overall
    assert sum(sum(row.values()) for row in overall["department_confusion"].values()) == 4
    assert set(overall["department_confusion"]) == {"transport_roads", "city_environment"}
    assert report["spread"]["holdout"]["waste"] == {"terse": {"ru": 1}, "formal": {"ru": 1}}
    assert sum(report["spread"]["training"]["roads"]["chat"].values()) > 0

    code, text, _ = _run(argv, monkeypatch)
    assert code == 0
    assert "macro-F1" in text and "confusion" in text
    assert "department confusion" in text and "register terse" in text and "language kk" in text
    assert "second held-out set" in text


def test_eval_one_set(cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _holdout(tmp_path / "holdout")
    argv = ["eval", "--json", "--config", str(EXAMPLE_CONFIG), "--cache-dir", str(cache_dir)]
    code, out, _ = _run([*argv, "--holdout-dir", str(folder), "--set", "holdout"], monkeypatch)
    assert code == 0
    report = json.loads(out)
    assert set(report["sets"]) == {"holdout"} and report["examples"] == 5
    code, out, _ = _run([*argv, "--holdout-dir", str(folder), "--set", "chat"], monkeypatch)
    assert code == 0 and set(json.loads(out)["sets"]) == {"chat"}
    code, _, err = _run([*argv, "--holdout-dir", str(tmp_path / "empty"), "--set", "holdout"], monkeypatch)
    assert code == 1 and "no rows" in err
    _write(folder / "broken.jsonl", _row("Яма", register="memo"))
    code, _, err = _run([*argv, "--holdout-dir", str(folder)], monkeypatch)
    assert code == 1 and "broken.jsonl:1" in err
