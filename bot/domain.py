"""Domain types shared by the pipeline, handlers and storage; free of any Telegram library."""

from __future__ import annotations

from enum import StrEnum


class ComplaintStatus(StrEnum):
    """Lifecycle of a complaint: new → queued → delivered → in_progress → resolved | rejected | duplicate."""

    NEW = "new"
    QUEUED = "queued"
    DELIVERED = "delivered"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"

    @property
    def is_final(self) -> bool:
        """True for statuses that close a complaint."""
        return self in _FINAL


_FINAL = frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.REJECTED, ComplaintStatus.DUPLICATE})

# Which status may follow which; a reopened complaint goes back to the department queue.
ALLOWED_TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.NEW: frozenset(
        {ComplaintStatus.QUEUED, ComplaintStatus.REJECTED, ComplaintStatus.DUPLICATE}
    ),
    ComplaintStatus.QUEUED: frozenset(
        {
            ComplaintStatus.QUEUED,
            ComplaintStatus.DELIVERED,
            ComplaintStatus.REJECTED,
            ComplaintStatus.DUPLICATE,
        }
    ),
    ComplaintStatus.DELIVERED: frozenset(
        {
            ComplaintStatus.QUEUED,
            ComplaintStatus.IN_PROGRESS,
            ComplaintStatus.RESOLVED,
            ComplaintStatus.REJECTED,
            ComplaintStatus.DUPLICATE,
        }
    ),
    ComplaintStatus.IN_PROGRESS: frozenset(
        {
            ComplaintStatus.QUEUED,
            ComplaintStatus.RESOLVED,
            ComplaintStatus.REJECTED,
            ComplaintStatus.DUPLICATE,
        }
    ),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.QUEUED}),
    ComplaintStatus.REJECTED: frozenset({ComplaintStatus.QUEUED}),
    ComplaintStatus.DUPLICATE: frozenset({ComplaintStatus.QUEUED}),
}


class InvalidTransition(ValueError):
    """A status change the complaint lifecycle does not allow."""


def check_transition(current: ComplaintStatus, target: ComplaintStatus) -> None:
    """Raise InvalidTransition unless `current` may move to `target`."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"a {current.value} complaint cannot become {target.value}")


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
