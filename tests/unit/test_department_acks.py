"""The department worker acks a round's delivered entries together, in one queue call at its end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event

from bot.telegram import TelegramError
from tests.unit.test_combined import Budget, file, messages, worker
from tests.unit.test_pipeline import UTILITIES_CHAT, Harness, harness

__all__ = ["harness"]  # the fixture, shared with the pipeline tests


def record_acks(harness: Harness) -> list[list[str]]:
    """Make the queue note each ack call: one list of ids per call (a single `ack` as a list of one)."""
    calls: list[list[str]] = []
    queue = harness.queue
    ack, ack_many = queue.ack, queue.ack_many

    async def single(name: str, entry_id: str) -> None:
        calls.append([entry_id])
        await ack(name, entry_id)

    async def many(name: str, entry_ids: Sequence[str]) -> None:
        calls.append(list(entry_ids))
        await ack_many(name, list(entry_ids))

    queue.ack = single  # type: ignore[method-assign]
    queue.ack_many = many  # type: ignore[method-assign]
    return calls


async def test_a_round_of_cards_is_acked_in_one_call(harness: Harness) -> None:
    utilities = worker(harness, Budget(100))
    await file(harness, 5)
    acks = record_acks(harness)

    assert await utilities.run_once() == 5

    assert len(messages(harness)) == 5
    assert len(acks) == 1 and len(acks[0]) == 5
    assert (await harness.queue.stats("utilities")).depth == 0


async def test_an_entry_telegram_refused_stays_queued_and_the_rest_are_acked(harness: Harness) -> None:
    utilities = worker(harness, Budget(100))
    await file(harness, 3)
    acks = record_acks(harness)
    harness.gateway.errors.append(("sendMessage", UTILITIES_CHAT, TelegramError("Bad Request: nope")))

    assert await utilities.run_once() == 3

    assert len(messages(harness)) == 2
    ((refused,),) = [[p["complaint_id"]] for p in harness.queue.payloads("utilities")]
    assert refused == 1
    assert len(acks) == 1 and len(acks[0]) == 2


async def test_a_round_that_fails_midway_acks_what_it_delivered(harness: Harness) -> None:
    utilities = worker(harness, Budget(100))
    await file(harness, 4)
    acks = record_acks(harness)
    delivery = harness.bot.delivery
    deliver = delivery.deliver
    seen: list[int] = []

    async def failing(complaint_id: int, department_id: str, *args: Any) -> bool:
        seen.append(complaint_id)
        if len(seen) == 3:
            raise ConnectionError("database away")
        return await deliver(complaint_id, department_id, *args)

    delivery.deliver = failing  # type: ignore[method-assign]

    with pytest.raises(ConnectionError):
        await utilities.run_once()

    assert len(messages(harness)) == 2
    assert len(acks) == 1 and len(acks[0]) == 2
    # the failed entry and the one after it stay queued (leased), to come back after the lease
    assert sorted(p["complaint_id"] for p in harness.queue.payloads("utilities")) == [3, 4]


async def test_planning_a_busy_round_loads_its_complaints_in_one_query(harness: Harness) -> None:
    await file(harness, 5)
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = harness.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        kinds = await harness.bot.delivery.kinds([1, 2, 3, 4, 5, 99], "utilities")
    finally:
        event.remove(engine, "before_cursor_execute", note)

    assert kinds == {1: "new", 2: "new", 3: "new", 4: "new", 5: "new", 99: "other"}
    assert len([s for s in statements if "FROM complaints" in s]) == 1
