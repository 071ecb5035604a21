"""The complaint lifecycle as a table: every move from every status, allowed or refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.lifecycle import (
    ALLOWED_TRANSITIONS,
    BEFORE_DELIVERY,
    FINAL,
    LISTED,
    NOT_TAKEN,
    ON_DESK,
    TAKEABLE,
    UNRESOLVED,
    CardState,
    ComplaintStatus,
    InvalidTransition,
    card_combined,
    card_in_doubt,
    card_not_sent,
    card_opening,
    card_sending,
    card_sent,
    check_transition,
    merge,
    move,
    start,
    start_afresh,
    statuses,
)

S = ComplaintStatus
# rows: from; columns: to, in the order new, queued, delivered, in_progress, resolved, rejected, duplicate
TABLE = {
    S.NEW: "-Y---YY",
    S.QUEUED: "-YY--YY",  # queued again: rerouted before its card went out
    S.DELIVERED: "-Y-YYYY",  # back to queued: rerouted or edited into another department
    S.IN_PROGRESS: "-Y--YYY",
    S.RESOLVED: "-Y-----",  # reopened
    S.REJECTED: "-Y-----",
    S.DUPLICATE: "-Y-----",
}
ORDER = list(ComplaintStatus)
CASES = [(src, dst, TABLE[src][i] == "Y") for src in ORDER for i, dst in enumerate(ORDER)]


@pytest.mark.parametrize(("current", "target", "allowed"), CASES, ids=[f"{a}->{b}" for a, b, _ in CASES])
def test_each_move_is_allowed_or_refused_as_the_table_says(
    current: ComplaintStatus, target: ComplaintStatus, allowed: bool
) -> None:
    assert (target in ALLOWED_TRANSITIONS[current]) is allowed
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(
            InvalidTransition, match=f"{current.value} complaint cannot become {target.value}"
        ):
            check_transition(current, target)


def test_nothing_moves_back_to_new_and_a_closed_complaint_only_reopens() -> None:
    assert all(S.NEW not in targets for targets in ALLOWED_TRANSITIONS.values())
    assert all(ALLOWED_TRANSITIONS[s] == {S.QUEUED} for s in FINAL)


def test_the_named_sets_answer_each_question_once() -> None:
    assert {S.RESOLVED, S.REJECTED, S.DUPLICATE} == FINAL
    assert set(ComplaintStatus) - FINAL == UNRESOLVED
    assert S.NEW in UNRESOLVED and S.NEW not in ON_DESK  # new: not yet with a department
    assert {S.QUEUED, S.DELIVERED, S.IN_PROGRESS} == ON_DESK
    assert {S.NEW, S.QUEUED, S.DELIVERED} == NOT_TAKEN
    assert {S.NEW, S.QUEUED} == BEFORE_DELIVERY
    assert ON_DESK - {S.IN_PROGRESS} == TAKEABLE
    assert all(S.IN_PROGRESS in ALLOWED_TRANSITIONS[s] for s in TAKEABLE - {S.QUEUED})
    assert statuses(ON_DESK) == ("queued", "delivered", "in_progress")


def test_card_states_are_stored_as_their_plain_names() -> None:
    assert [s.value for s in CardState] == ["sending", "sent", "combined", "opening"]
    assert {CardState.COMBINED, CardState.OPENING} == LISTED
    assert CardState.SENT == "sent"  # rows hold plain strings; they compare equal


T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass
class Complaint:
    """The fields the lifecycle writes, as a stored complaint row has them."""

    id: int = 1
    status: str = ""
    updated_at: datetime = T0
    resolved_at: datetime | None = None
    reopen_count: int = 0
    duplicate_of_id: int | None = None
    duplicate_count: int = 0
    card_state: str | None = None
    card_chat_id: int | None = None
    card_message_id: int | None = None
    card_batch: str | None = None
    card_repeat: bool = False
    delivered_at: datetime | None = None
    deadline_at: datetime | None = None
    reminded_at: datetime | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None


@pytest.mark.parametrize(("current", "target", "allowed"), CASES, ids=[f"{a}->{b}" for a, b, _ in CASES])
def test_move_writes_only_what_the_table_allows(
    current: ComplaintStatus, target: ComplaintStatus, allowed: bool
) -> None:
    complaint = Complaint(status=current.value)
    later = T0 + timedelta(hours=1)
    if not allowed:
        with pytest.raises(InvalidTransition):
            move(complaint, target, later)
        assert complaint == Complaint(status=current.value)  # a refused move leaves no trace
        return
    moved = move(complaint, target, later)
    assert (moved.before, moved.after) == (current, target)
    assert (complaint.status, complaint.updated_at) == (target.value, later)
    reopened = current in FINAL and target is S.QUEUED
    assert complaint.reopen_count == (1 if reopened else 0)
    assert complaint.resolved_at == (later if target is S.RESOLVED else None)


def test_a_reopened_complaint_loses_its_resolution_and_counts_the_reopening() -> None:
    complaint = Complaint(status="in_progress")
    move(complaint, S.RESOLVED, T0)
    assert complaint.resolved_at == T0
    move(complaint, S.QUEUED, T0 + timedelta(days=1))
    move(complaint, S.DELIVERED, T0 + timedelta(days=1))
    move(complaint, S.RESOLVED, T0 + timedelta(days=2))
    move(complaint, S.QUEUED, T0 + timedelta(days=3))
    assert (complaint.reopen_count, complaint.resolved_at) == (2, None)


def test_a_new_complaint_starts_as_new_unless_made_in_another_status() -> None:
    fresh, queued = Complaint(), Complaint(status="queued")
    assert start(fresh, T0) is S.NEW and fresh.status == "new"
    assert start(queued, T0) is S.QUEUED


def test_a_merge_folds_the_duplicate_and_what_was_merged_into_it() -> None:
    original, complaint = Complaint(id=1, duplicate_count=2), Complaint(id=5, duplicate_count=1)
    earlier = Complaint(id=3, duplicate_of_id=5)
    merge(complaint, original, [earlier])
    assert complaint.duplicate_of_id == 1 and earlier.duplicate_of_id == 1
    assert (
        original.duplicate_count == 2 + 1 + 1
    )  # its own reporters, the duplicate, and the one merged into it


# card steps: (state before, step, state after, what the step answered)
CARD_STEPS = [
    (None, "sending", "sending", None),
    ("combined", "sending", "sending", CardState.COMBINED),  # a listed one remembers where it was listed
    ("opening", "sending", "sending", CardState.OPENING),
    ("sent", "sending", "sending", None),
    ("sending", "sending", "sending", CardState.SENDING),  # left by a crash: a refusal now keeps it so
    ("sending", "not_sent", None, True),
    ("sent", "not_sent", "sent", False),  # moved on meanwhile: a refusal changes nothing
    ("sending", "combined", "combined", True),
    (None, "combined", None, False),  # queued again by an edit while the message went out
    ("combined", "opening", "opening", True),
    ("opening", "opening", "opening", False),  # a second press changes nothing
    ("sent", "opening", "sent", False),
]


@pytest.mark.parametrize(("before", "step", "after", "answer"), CARD_STEPS)
def test_card_steps(before: str | None, step: str, after: str | None, answer: object) -> None:
    complaint = Complaint(card_state=before)
    if step == "sending":
        result: object = card_sending(complaint)
    elif step == "not_sent":
        result = card_not_sent(complaint, None)
    elif step == "combined":
        result = card_combined(complaint, -100, 7, T0)
    else:
        result = card_opening(complaint)
    assert (complaint.card_state, result) == (after, answer)


def test_a_refused_send_restores_the_listing_and_a_recorded_card_points_at_its_message() -> None:
    complaint = Complaint(card_state="combined", card_chat_id=-100, card_message_id=7)
    previous = card_sending(complaint)
    assert card_not_sent(complaint, previous) and complaint.card_state == "combined"
    card_sending(complaint)
    card_sent(complaint, -100, 42, T0)
    assert (complaint.card_state, complaint.card_message_id, complaint.delivered_at) == ("sent", 42, T0)


def test_a_fresh_start_forgets_the_card_and_the_lateness() -> None:
    complaint = Complaint(
        card_state="sent",
        card_chat_id=-100,
        card_message_id=42,
        reminded_at=T0,
        escalation_level=2,
        escalated_at=T0,
    )
    start_afresh(complaint, T0 + timedelta(days=3))
    assert (complaint.card_state, complaint.card_chat_id, complaint.card_message_id) == (None, None, None)
    assert (complaint.deadline_at, complaint.reminded_at) == (T0 + timedelta(days=3), None)
    assert (complaint.escalation_level, complaint.escalated_at) == (0, None)


def test_a_combined_message_s_batch_is_kept_until_a_send_is_recorded_or_refused() -> None:
    complaint = Complaint()
    assert card_sending(complaint, "b1") is None and (complaint.card_state, complaint.card_batch) == (
        "sending",
        "b1",
    )
    assert card_in_doubt(complaint)  # a crash here: Telegram may have the message
    again = card_sending(complaint, "b2")  # sent again after the crash: still in doubt, in its batch
    assert (again, complaint.card_batch) == (CardState.SENDING, "b1")
    assert card_not_sent(complaint, again) and (complaint.card_state, complaint.card_batch) == (
        "sending",
        "b1",
    )
    assert card_combined(complaint, -100, 8, T0, repeat=True)
    assert (complaint.card_state, complaint.card_batch, complaint.card_repeat) == ("combined", None, True)
    assert not card_in_doubt(complaint)
    refused = Complaint()
    card_not_sent(refused, card_sending(refused, "b3"))
    assert (refused.card_state, refused.card_batch) == (None, None)


def test_a_card_sent_again_after_a_crash_is_marked_and_a_fresh_start_forgets_the_mark() -> None:
    complaint = Complaint(card_state="sending", card_batch="b1")
    card_sent(complaint, -100, 42, T0, repeat=True)
    assert (complaint.card_state, complaint.card_batch, complaint.card_repeat) == ("sent", None, True)
    card_sending(complaint)
    card_sent(complaint, -100, 43, T0)
    assert not complaint.card_repeat  # a card sent without a crash in between is not a repeat
    marked = Complaint(card_state="combined", card_repeat=True)
    start_afresh(marked, None)
    assert (marked.card_state, marked.card_batch, marked.card_repeat) == (None, None, False)
