"""Domain types shared by the pipeline, handlers and storage; free of any Telegram library."""

from __future__ import annotations

from enum import StrEnum

# the complaint's lifecycle lives in one module; these names stay importable from here
from bot.core.lifecycle import ALLOWED_TRANSITIONS, ComplaintStatus, InvalidTransition, check_transition

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ComplaintSource",
    "ComplaintStatus",
    "InboxStatus",
    "InvalidTransition",
    "MessageLanguage",
    "check_transition",
]


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
