"""Logging set-up: text or JSON lines, with the bot token scrubbed from everything written.

Context goes in `extra=` (complaint_id, department, chat_id ...): JSON lines carry each as a key, text
lines end with `key=value` pairs. Residents' names and phone numbers are never passed to a logger.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Replaces secrets (the bot token) in log messages and arguments."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def add(self, secret: str) -> None:
        """Scrub one more secret: one known only once the bot runs, such as a generated webhook secret."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drops it."""
        if self._secrets:
            # the rendered message: an argument's repr (a library's DEBUG line showing a query's
            # parameters, say) carries a secret as surely as a string argument does
            try:
                message = record.getMessage()
            except Exception:  # a bad format string: logging reports it itself; scrub what there is
                message = str(record.msg)
            else:
                record.args = None
            record.msg = self._scrub(message)
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self._scrub(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
            for key, value in _extras(record).items():
                if isinstance(value, str):  # e.g. an error description passed as extra
                    setattr(record, key, self._scrub(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call added with `extra=`."""
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_extras(record))
        if record.exc_text:
            data["exception"] = record.exc_text
        elif record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`, the `extra` fields last."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one text line (plus a traceback, if any)."""
        line = super().format(record)
        extras = _extras(record)
        if not extras:
            return line
        pairs = " ".join(
            f"{key}={json.dumps(value, ensure_ascii=False, default=str)}" for key, value in extras.items()
        )
        head, newline, rest = line.partition("\n")
        return f"{head} {pairs}{newline}{rest}"


def redact(secret: str) -> None:
    """Have the scrubbers of the installed log handlers hide `secret` too, from now on."""
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, RedactingFilter):
                log_filter.add(secret)


def configure_logging(
    level: str, *, json_format: bool, secrets: list[str], stream: TextIO | None = None
) -> None:
    """Install one handler on the root logger with redaction and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiogram.event", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
