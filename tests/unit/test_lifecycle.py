"""The complaint lifecycle as a table: every move from every status, allowed or refused."""

from __future__ import annotations

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
    check_transition,
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
