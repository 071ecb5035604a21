"""The complaint's lifecycle in one place: its statuses, the moves between them, its card's states.

Services ask here whether a move is allowed and which statuses a question means ("still open on a
desk", "not taken yet"); the sets are named once, so a digest, a reminder and the desk cannot
disagree about what "open" is.

    new          → queued | rejected | duplicate
    queued       → delivered | rejected | duplicate (queued again: a reroute)
    delivered    → in_progress | resolved | rejected | duplicate | queued (rerouted, edited)
    in_progress  → resolved | rejected | duplicate | queued (rerouted, edited)
    resolved, rejected, duplicate → queued (reopened by the resident or a new report)

A complaint's card in its department chat has a state of its own (`CardState`), recorded before and
after each send so a crash leaves a trace of a possible send; what is sent again for such a trace is
marked as a possible repeat (`card_repeat`), and a combined message's complaints remember their batch
(`card_batch`) so they are sent again together, as one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

__all__ = [
    "ALLOWED_TRANSITIONS",
    "BEFORE_DELIVERY",
    "FINAL",
    "LISTED",
    "NOT_TAKEN",
    "ON_DESK",
    "TAKEABLE",
    "UNRESOLVED",
    "CardState",
    "ComplaintStatus",
    "InvalidTransition",
    "Move",
    "card_combined",
    "card_in_doubt",
    "card_not_sent",
    "card_opening",
    "card_sending",
    "card_sent",
    "check_transition",
    "merge",
    "move",
    "start",
    "start_afresh",
    "statuses",
]


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


class _Tracked(Protocol):
    """The parts of a complaint its status moves write (a stored complaint row has them)."""

    status: str
    updated_at: datetime
    resolved_at: datetime | None
    reopen_count: int


@dataclass(frozen=True, slots=True)
class Move:
    """One status change that happened: what the audit log records."""

    before: ComplaintStatus
    after: ComplaintStatus


def start(complaint: _Tracked, now: datetime) -> ComplaintStatus:
    """A complaint being stored for the first time starts as `new` unless it was made in another status."""
    complaint.status = ComplaintStatus(complaint.status or ComplaintStatus.NEW).value
    complaint.updated_at = now
    return ComplaintStatus(complaint.status)


def move(complaint: _Tracked, target: ComplaintStatus, now: datetime) -> Move:
    """Move a complaint to `target` if the lifecycle allows it: a resolution is stamped, a reopening is
    counted and clears the resolution; raise InvalidTransition otherwise."""
    current = ComplaintStatus(complaint.status)
    check_transition(current, target)
    complaint.status = target.value
    complaint.updated_at = now
    if target is ComplaintStatus.RESOLVED:
        complaint.resolved_at = now
    if current.is_final and target is ComplaintStatus.QUEUED:
        complaint.reopen_count += 1
        complaint.resolved_at = None
    return Move(current, target)


class _Mergeable(Protocol):
    """The parts of a complaint a merge writes."""

    id: int
    duplicate_of_id: int | None
    duplicate_count: int


def merge(complaint: _Mergeable, original: _Mergeable, merged_before: Iterable[_Mergeable]) -> None:
    """Fold `complaint` (already moved to `duplicate`) into `original`: one case with a count of its
    reporters; what was merged into `complaint` before now points at `original` too."""
    complaint.duplicate_of_id = original.id
    original.duplicate_count += 1 + complaint.duplicate_count
    for earlier in merged_before:
        earlier.duplicate_of_id = original.id


# --- named sets: each question about a status is answered here, once ----------------------------------

FINAL: frozenset[ComplaintStatus] = _FINAL
# not closed: what digests count as open and residents see as pending (a new one included)
UNRESOLVED = frozenset(s for s in ComplaintStatus if not s.is_final)
# in a department's hands: deadlines run, reminders and escalation apply, it may be an original of a duplicate
ON_DESK = frozenset({ComplaintStatus.QUEUED, ComplaintStatus.DELIVERED, ComplaintStatus.IN_PROGRESS})
# nobody has taken it yet: its card shows it waiting
NOT_TAKEN = frozenset({ComplaintStatus.NEW, ComplaintStatus.QUEUED, ComplaintStatus.DELIVERED})
# its card may still have to be sent
BEFORE_DELIVERY = frozenset({ComplaintStatus.NEW, ComplaintStatus.QUEUED})
# staff may take it
TAKEABLE = frozenset({ComplaintStatus.QUEUED, ComplaintStatus.DELIVERED})


def statuses(group: frozenset[ComplaintStatus]) -> tuple[str, ...]:
    """The stored values of a set of statuses, in lifecycle order (for queries)."""
    return tuple(s.value for s in ComplaintStatus if s in group)


class CardState(StrEnum):
    """Where a complaint's card in its department chat stands (None: not sent yet)."""

    SENDING = "sending"  # recorded before the request: after a crash, a send may have happened
    SENT = "sent"  # its own card is in the chat (card_chat_id, card_message_id)
    COMBINED = "combined"  # listed in a combined message (card_* point at it), waiting for "open"
    OPENING = "opening"  # staff pressed "open" on the combined message; its own card is on the way


# listed in a combined message rather than on a card of its own
LISTED = frozenset({CardState.COMBINED, CardState.OPENING})


class _Afresh(Protocol):
    """The parts of a complaint a fresh start resets (a stored complaint row has them)."""

    card_state: str | None
    card_chat_id: int | None
    card_message_id: int | None
    card_batch: str | None
    card_repeat: bool
    deadline_at: datetime | None
    reminded_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None


def start_afresh(complaint: _Afresh, deadline_at: datetime | None) -> None:
    """A complaint that starts over in a department — rerouted by staff, moved there by its author's
    edit, or reopened — gets a new card, that department's full deadline, and no reminder or
    escalation yet: the old department's lateness does not follow it."""
    complaint.card_state, complaint.card_chat_id, complaint.card_message_id = None, None, None
    complaint.card_batch, complaint.card_repeat = None, False
    complaint.deadline_at = deadline_at
    complaint.reminded_at, complaint.escalation_level, complaint.escalated_at = None, 0, None


class _Card(Protocol):
    """The parts of a complaint that say where its card is."""

    card_state: str | None
    card_chat_id: int | None
    card_message_id: int | None
    card_batch: str | None
    card_repeat: bool
    delivered_at: datetime | None


def card_in_doubt(complaint: _Card) -> bool:
    """A send was marked and never recorded (a crash): Telegram may already have the card or message."""
    return complaint.card_state == CardState.SENDING


def card_sending(complaint: _Card, batch: str | None = None) -> CardState | None:
    """Record that a card (or the combined message `batch` listing it) is about to be sent, before the
    request, so a crash leaves a trace of a possible send; return the state to restore if Telegram
    refuses. A complaint already in doubt stays so, in its batch: a refusal now says nothing of the
    send the crash interrupted."""
    if card_in_doubt(complaint):
        return CardState.SENDING
    previous = CardState(complaint.card_state) if complaint.card_state in LISTED else None
    complaint.card_state = CardState.SENDING
    complaint.card_batch = batch
    return previous


def card_not_sent(complaint: _Card, previous: CardState | None) -> bool:
    """Telegram answered that nothing was posted: undo `card_sending` unless the card moved on since."""
    if complaint.card_state != CardState.SENDING:
        return False
    complaint.card_state = previous
    if previous != CardState.SENDING:
        complaint.card_batch = None
    return True


def card_sent(
    complaint: _Card, chat_id: int, message_id: int, now: datetime, *, repeat: bool = False
) -> None:
    """The complaint's own card is in its department chat (`repeat`: sent again after a crash)."""
    complaint.card_state = CardState.SENT
    complaint.card_chat_id, complaint.card_message_id = chat_id, message_id
    complaint.card_batch, complaint.card_repeat = None, repeat
    complaint.delivered_at = now


def card_combined(
    complaint: _Card, chat_id: int, message_id: int, now: datetime, *, repeat: bool = False
) -> bool:
    """The complaint is listed in a combined message (`repeat`: sent again after a crash); False
    (nothing written) if it changed meanwhile."""
    if complaint.card_state != CardState.SENDING:
        return False
    complaint.card_state = CardState.COMBINED
    complaint.card_chat_id, complaint.card_message_id = chat_id, message_id
    complaint.card_batch, complaint.card_repeat = None, repeat
    complaint.delivered_at = now
    return True


def card_opening(complaint: _Card) -> bool:
    """Staff asked for a listed complaint's own card; False if it was asked for already (or is not listed)."""
    if complaint.card_state != CardState.COMBINED:
        return False
    complaint.card_state = CardState.OPENING
    return True
