"""A card never shown anywhere goes out without the lookups only a re-render needs; re-renders keep them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bot.core.lifecycle import start_afresh
from tests.unit.test_pipeline import UTILITIES_CHAT, Harness, harness, mention

__all__ = ["harness"]  # the fixture, shared with the pipeline tests


TEXT = "@akim_astana третий день нет отопления в Сарыарке, батареи холодные"


@contextmanager
def statements(harness: Harness) -> Iterator[list[str]]:
    """The SQL the bot runs meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = harness.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def event_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("SELECT") and "FROM complaint_events" in s]


async def test_a_fresh_card_reads_no_audit_log(harness: Harness) -> None:
    await harness.feed(harness.update(TEXT, message_id=10, entities=mention(TEXT)))
    with statements(harness) as seen:
        assert await harness.deliver() == 1
    assert seen, "the listener saw the delivery"
    # neither "who acted last" nor "which combined message lists it": nothing can have happened yet
    assert event_reads(seen) == []
    (card,) = harness.gateway.sent_to(UTILITIES_CHAT)
    assert "№1" in card.params["text"]


async def test_a_card_sent_afresh_still_names_who_acted_last(harness: Harness) -> None:
    await harness.feed(harness.update(TEXT, message_id=10, entities=mention(TEXT)))
    assert await harness.deliver() == 1
    async with harness.resources.unit_of_work() as uow:
        row = await uow.complaints.get(1)
        assert row is not None and row.delivered_at is not None
        # as a desk reroute leaves it: no card of its own any more, and a staff member's event
        start_afresh(row, None)
        await uow.complaints.log(row, "rerouted", actor="staff", details={"by": "Иван Петров"})
        await uow.commit()
    await harness.queue.put("utilities", {"complaint_id": 1})
    with statements(harness) as seen:
        assert await harness.deliver() == 1
    assert event_reads(seen), "a card shown before looks up its audit log"
    first, second = harness.gateway.sent_to(UTILITIES_CHAT)
    assert "Иван Петров" not in first.params["text"]
    assert "Иван Петров" in second.params["text"]
