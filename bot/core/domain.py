"""Domain types shared by the pipeline, handlers and storage; free of any Telegram library."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# the complaint's lifecycle lives in one module; these names stay importable from here
from bot.core.lifecycle import ALLOWED_TRANSITIONS, ComplaintStatus, InvalidTransition, check_transition

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "ComplaintSource",
    "ComplaintStatus",
    "InboxStatus",
    "InvalidTransition",
    "MessageLanguage",
    "check_transition",
]


# the languages the bot speaks to people (config's `Language` spells the same three); Russian answers
# where nothing else is known
LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
DEFAULT_LANGUAGE: Final = "ru"


class ComplaintSource(StrEnum):
    """Where a complaint came from."""

    GROUP = "group"
    CHANNEL = "channel"
    PRIVATE = "private"


class InboxStatus(StrEnum):
    """Processing state of a raw update in the inbox."""

    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class MessageLanguage(StrEnum):
    """Language of a resident's message."""

    RU = "ru"
    KK = "kk"
    EN = "en"
    MIXED = "mixed"
    UNKNOWN = "unknown"
