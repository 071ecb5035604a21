"""Structured logs: `extra=` fields become JSON keys (or key=value pairs), and secrets are scrubbed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import configure_logging

TOKEN = "123456789:AAExampleExampleExampleExampleExam"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit(json_format: bool) -> str:
    stream = io.StringIO()
    configure_logging("INFO", json_format=json_format, secrets=[TOKEN], stream=stream)
    log = logging.getLogger("bot.pipeline")
    log.info("complaint stored", extra={"complaint_id": 42, "department": "utilities", "chat_id": -100123})
    log.error(
        "department chat unreachable; cards stay queued",
        extra={"department": "utilities", "reason": f"POST https://api.telegram.org/bot{TOKEN}/sendMessage"},
    )
    return stream.getvalue()


@pytest.mark.usefixtures("restore_root_logger")
def test_json_lines_carry_extra_fields_as_keys() -> None:
    stored, unreachable = (json.loads(line) for line in emit(json_format=True).splitlines())
    assert stored["message"] == "complaint stored"
    assert (stored["complaint_id"], stored["department"], stored["chat_id"]) == (42, "utilities", -100123)
    assert stored["level"] == "INFO" and stored["logger"] == "bot.pipeline"
    assert unreachable["department"] == "utilities"
    assert TOKEN not in unreachable["reason"] and "bot***/sendMessage" in unreachable["reason"]


@pytest.mark.usefixtures("restore_root_logger")
def test_text_lines_end_with_the_extra_fields() -> None:
    stored, unreachable = emit(json_format=False).splitlines()
    assert stored.endswith(
        'bot.pipeline: complaint stored complaint_id=42 department="utilities" chat_id=-100123'
    )
    assert TOKEN not in unreachable and 'department="utilities"' in unreachable


@pytest.mark.usefixtures("restore_root_logger")
def test_a_traceback_stays_after_the_line_with_the_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json_format=False, secrets=[TOKEN], stream=stream)
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        logging.getLogger("bot.runtime").exception("the bot stopped", extra={"department": "police"})
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith('the bot stopped department="police"')
    assert rest[0].startswith("Traceback") and TOKEN not in stream.getvalue()
