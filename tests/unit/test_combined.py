"""Combined messages: a busy department chat gets several new complaints in one message, with in-memory
ports (the worker's decision, what is recorded, refreshes, and the desk's "open")."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from sqlalchemy import select

from bot.config import DeliveryConfig
from bot.core.events import CallbackPress, User
from bot.telegram import TelegramRetryAfter
from bot.workers.department import DepartmentWorker
from storage.models import ComplaintEventRow, ComplaintRow
from tests.support import Call
from tests.unit.test_pipeline import UTILITIES_CHAT, UTILITIES_HEAD, Harness, harness, mention

__all__ = ["harness"]  # the fixture, shared with the pipeline tests

STAFF = 200002  # utilities staff in the example config
STRANGER = 555000
GAS = "@akim_astana запах газа в подъезде, Кенесары 17!"  # urgent


class Budget:
    """A rate limiter whose budget the test sets: `slots` messages may go, then the chat must wait."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.penalised: list[float] = []

    def reserve(self, chat_id: int) -> float:
        if self.slots > 0:
            self.slots -= 1
            return 0.0
        return 1e-6  # "wait": released entries are claimable again right away, when the test says so

    def available(self, chat_id: int) -> int:
        return self.slots

    def penalise(self, chat_id: int, seconds: float) -> None:
        self.penalised.append(seconds)
        self.slots = 0


def worker(harness: Harness, budget: Budget, **delivery: Any) -> DepartmentWorker:
    (found,) = [w for w in harness.bot.workers if w.department_id == "utilities"]
    found._limiter = budget  # type: ignore[assignment]
    if delivery:
        settings = harness.bot.config.delivery.model_copy(update=delivery)
        found._config = harness.bot.config.model_copy(update={"delivery": settings})
    return found


async def file(harness: Harness, count: int, *, first: int = 1) -> None:
    for n in range(first, first + count):
        text = f"@akim_astana нет горячей воды в доме {n} на улице Абая {n * 10}"
        await harness.feed(harness.update(text, message_id=1000 + n, entities=mention(text)))


def messages(harness: Harness) -> list[Call]:
    return [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "sendMessage"]


def buttons(call: Call) -> list[str]:
    keyboard = call.params["keyboard"] or ()
    return [b.callback_data for row in keyboard for b in row]


async def rows(harness: Harness) -> dict[int, ComplaintRow]:
    return {row.id: row for row in await harness.complaints()}


async def test_a_busy_chat_gets_one_combined_message(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 6)
    assert await utilities.run_once() == 6
    (message,) = messages(harness)
    assert message.params["text"].startswith("<b>📥 Новые обращения: 6</b>")
    for number in range(1, 7):
        assert message.params["text"].count(f"<b>№{number}</b>") == 1
    assert buttons(message) == [f"d:open:{n}" for n in range(1, 7)]
    for row in (await rows(harness)).values():
        assert (row.status, row.card_state) == ("delivered", "combined")
        assert (row.card_chat_id, row.card_message_id) == (UTILITIES_CHAT, 1)
    assert (await harness.queue.stats("utilities")).depth == 0
    stats = harness.bot.delivery.stats
    assert (stats.combined_messages, stats.combined_complaints, stats.cards_sent) == (1, 6, 0)
    async with harness.resources.unit_of_work() as uow:
        events = (await uow.session.scalars(select(ComplaintEventRow))).all()
    listed = [e for e in events if e.action == "combined"]
    assert len(listed) == 6 and all(e.details["members"] == [1, 2, 3, 4, 5, 6] for e in listed)


async def test_a_chat_with_budget_to_spare_gets_cards(harness: Harness) -> None:
    utilities = worker(harness, Budget(100))
    await file(harness, 5)
    assert await utilities.run_once() == 5
    assert len(messages(harness)) == 5
    assert all("d:take:" in " ".join(buttons(m)) for m in messages(harness))
    assert harness.bot.delivery.stats.combined_messages == 0


async def test_too_few_or_combining_off_means_cards_wait_their_turn(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 2)  # fewer than delivery.combine_min (3)
    assert await utilities.run_once() == 1
    assert len(messages(harness)) == 1 and (await harness.queue.stats("utilities")).depth == 1
    budget.slots = 1
    assert await utilities.run_once() == 1

    off = worker(harness, Budget(1), combine_min=0)
    await file(harness, 5, first=10)
    assert await off.run_once() == 1
    assert (await harness.queue.stats("utilities")).depth == 4
    assert harness.bot.delivery.stats.combined_messages == 0


async def test_combine_max_caps_a_message(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget, combine_min=2, combine_max=4)
    await file(harness, 7)
    await utilities.run_once()
    (first,) = messages(harness)
    assert "Новые обращения: 4" in first.params["text"]
    budget.slots = 1
    await utilities.run_once()
    second = messages(harness)[1]
    assert "Новые обращения: 3" in second.params["text"]
    listed = sorted(int(d.split(":")[2]) for m in messages(harness) for d in buttons(m))
    assert listed == list(range(1, 8))  # every complaint exactly once


async def test_urgent_goes_first_as_a_card_and_to_the_head(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 4)
    await harness.feed(harness.update(GAS, message_id=2000, entities=mention(GAS)))
    assert await utilities.run_once() == 1  # the budget's one slot: the urgent card
    (card,) = messages(harness)
    assert "СРОЧНО" in card.params["text"] and "d:take:5" in buttons(card)
    assert len(harness.gateway.sent_to(UTILITIES_HEAD)) == 1
    budget.slots = 1
    assert await utilities.run_once() == 4
    combined = messages(harness)[1]
    assert "Новые обращения: 4" in combined.params["text"] and "СРОЧНО" not in combined.params["text"]


async def test_edits_of_sent_cards_are_not_combined(harness: Harness) -> None:
    utilities = worker(harness, Budget(100))
    await file(harness, 1)
    await utilities.run_once()
    budget = worker(harness, Budget(1))._limiter
    edited = "@akim_astana нет горячей воды в доме 1 на улице Абая 10 — уже неделю"
    await harness.feed(harness.update(edited, message_id=1001, edited=True, entities=mention(edited)))
    await file(harness, 4, first=2)
    await utilities.run_once()  # one slot: the edit goes first, the new ones wait
    (edit,) = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"]
    assert edit.params["message_id"] == 1 and "уже неделю" in edit.params["text"]
    assert len(messages(harness)) == 1
    budget.slots = 1  # type: ignore[attr-defined]
    await utilities.run_once()
    combined = messages(harness)[1]
    assert buttons(combined) == ["d:open:2", "d:open:3", "d:open:4", "d:open:5"]


async def test_changes_to_a_listed_complaint_re_render_its_message(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 3)
    await utilities.run_once()
    # the resident edits the message: no card of its own, the combined message shows the new text
    edited = "@akim_astana нет горячей воды в доме 2 на улице Абая 20, дети мёрзнут"
    await harness.feed(harness.update(edited, message_id=1002, edited=True, entities=mention(edited)))
    budget.slots = 1
    await utilities.run_once()
    (edit,) = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"]
    assert edit.params["message_id"] == 1 and "дети мёрзнут" in edit.params["text"]
    assert all(f"<b>№{n}</b>" in edit.params["text"] for n in (1, 2, 3))
    assert len(messages(harness)) == 1
    # staff elsewhere merge a duplicate into a listed complaint: the line shows "+1 residents"
    async with harness.resources.unit_of_work() as uow:
        duplicate = await uow.complaints.get(3)
        original = await uow.complaints.get(1)
        assert duplicate is not None and original is not None
        await uow.complaints.mark_duplicate(duplicate, original, actor_user_id=STAFF, details={"by": "Staff"})
        await uow.commit()
    await harness.bot.delivery.refresh(1)
    last = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"][-1]
    assert last.params["message_id"] == 1 and "+1" in last.params["text"]
    assert "дубликат" in last.params["text"]  # №3 is closed: its line says so


async def test_an_edit_that_makes_a_listed_complaint_urgent_sends_its_card(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 3)
    await utilities.run_once()
    urgent = "@akim_astana нет горячей воды в доме 1 на улице Абая 10, и запах газа в подъезде!"
    await harness.feed(harness.update(urgent, message_id=1001, edited=True, entities=mention(urgent)))
    assert (await rows(harness))[1].urgent
    budget.slots = 1
    await utilities.run_once()
    card = messages(harness)[1]
    assert "СРОЧНО" in card.params["text"] and "d:take:1" in buttons(card)
    assert len(harness.gateway.sent_to(UTILITIES_HEAD)) == 1
    listing = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"][-1]
    assert "открыто отдельной карточкой" in listing.params["text"]
    row = (await rows(harness))[1]
    assert (row.card_state, row.card_message_id) == ("sent", card_id(harness, card))


def card_id(harness: Harness, call: Call) -> int:
    """The message id RecordingGateway gave a call: its position among the chat's sends."""
    sends = [c for c in harness.gateway.sent_to(call.chat_id or 0) if c.method.startswith("send")]
    return sends.index(call) + 1


def press(data: str, *, user: int = STAFF, message_id: int = 1) -> CallbackPress:
    return CallbackPress(
        update_id=1,
        callback_id="q",
        sender=User(user, first_name="Staff"),
        data=data,
        chat_id=UTILITIES_CHAT,
        message_id=message_id,
    )


async def test_open_sends_the_full_card_and_take_works_on_it(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 4)
    await utilities.run_once()
    desk = harness.bot.desk

    # strangers, forged actions and presses on another message change nothing
    refused = [
        await desk.press(press("d:open:2", user=STRANGER)),
        await desk.press(press("d:take:2")),
        await desk.press(press("d:resolve:2")),
        await desk.press(press("d:open:2", message_id=99)),
        await desk.press(press("d:open:2:1")),
    ]
    assert all(r.alert for r in refused)
    assert {n: r.card_state for n, r in (await rows(harness)).items()} == dict.fromkeys(
        range(1, 5), "combined"
    )
    assert (await harness.queue.stats("utilities")).depth == 0

    result = await desk.press(press("d:open:2"))
    assert not result.alert and "№2" in (result.notice or "") and result.refresh == [2]
    assert (await rows(harness))[2].card_state == "opening"
    again = await desk.press(press("d:open:2"))  # a double press queues nothing more
    assert not again.alert
    assert harness.queue.payloads("utilities") == [{"complaint_id": 2}]
    await harness.bot.delivery.refresh(2)  # what the handler does with result.refresh
    listing = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"][-1]
    assert "карточка отправляется" in listing.params["text"]

    budget.slots = 1
    await utilities.run_once()
    card = messages(harness)[1]
    assert "Обращение №2" in card.params["text"] and "d:take:2" in buttons(card)
    listing = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"][-1]
    assert listing.params["message_id"] == 1 and "открыто отдельной карточкой" in listing.params["text"]
    row = (await rows(harness))[2]
    assert (row.card_state, row.card_message_id, row.status) == ("sent", 2, "delivered")
    assert harness.bot.delivery.stats.cards_sent == 1

    assert (await desk.press(press("d:open:2"))).alert  # the button is gone; a forged one is stale
    taken = await desk.press(press("d:take:2", message_id=2))
    assert not taken.alert and taken.notices and taken.notices[0].event == "taken"
    assert (await rows(harness))[2].status == "in_progress"
    assert (await desk.press(press("d:take:3", message_id=2))).alert  # №3 is not on that card


async def test_a_refused_combined_message_loses_nothing(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 4)
    harness.gateway.errors.append(("sendMessage", UTILITIES_CHAT, TelegramRetryAfter("Too Many Requests", 7)))
    await utilities.run_once()
    assert messages(harness) == [] and budget.penalised == [7]
    assert {r.card_state for r in (await rows(harness)).values()} == {None}
    assert (await harness.queue.stats("utilities")).depth == 4
    for item in harness.queue._items["utilities"].values():
        item.available_at = 0  # retry_after has passed
    budget.slots = 1
    await utilities.run_once()
    (message,) = messages(harness)
    assert buttons(message) == ["d:open:1", "d:open:2", "d:open:3", "d:open:4"]
    assert (await harness.queue.stats("utilities")).depth == 0


async def test_combine_settings_default_on() -> None:
    assert DeliveryConfig().combine_min == 3 and DeliveryConfig().combine_max == 10


async def test_while_an_opened_card_is_on_its_way_the_listing_is_left_alone(harness: Harness) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 3)
    await utilities.run_once()
    await harness.bot.desk.press(press("d:open:2"))
    async with harness.resources.unit_of_work() as uow:  # the worker has marked the send, not recorded it
        row = await uow.complaints.get(2)
        assert row is not None
        row.card_state = "sending"
        await uow.commit()
    edits = len(harness.gateway.calls)
    await harness.bot.delivery.refresh(2)  # e.g. the "open" handler's refresh, racing the worker
    assert len(harness.gateway.calls) == edits  # the combined message is not edited into a card
    assert (await harness.bot.desk.press(press("d:take:2"))).alert  # still only "open" on that message
    assert not (await harness.bot.desk.press(press("d:open:2"))).alert
    budget.slots = 1
    await utilities.run_once()
    card = messages(harness)[1]
    assert "Обращение №2" in card.params["text"] and "d:take:2" in buttons(card)


async def test_a_listed_complaint_moved_by_an_edit_gets_a_card_there_and_its_line_says_so(
    harness: Harness,
) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 3)
    await utilities.run_once()
    moved = "@akim_astana огромная яма на дороге на улице Абая 20, машины бьют колёса"
    await harness.feed(harness.update(moved, message_id=1002, edited=True, entities=mention(moved)))
    assert (await rows(harness))[2].department_id == "transport_roads"
    await harness.deliver()  # the roads worker, whose chat has budget to spare
    (card,) = [c for c in harness.gateway.sent_to(-1001000000002) if c.method == "sendMessage"]
    assert "Обращение №2" in card.params["text"] and "d:take:2" in buttons(card)
    listing = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"][-1]
    assert listing.params["message_id"] == 1
    assert "передано: Управление транспорта" in listing.params["text"]
    assert (await harness.bot.desk.press(press("d:open:2"))).alert  # it is not this department's now


class Crash(BaseException):
    """kill -9 between Telegram's answer and the record: nothing after it runs."""

    @classmethod
    async def throw(cls, *args: Any) -> NoReturn:
        raise cls


async def test_a_combined_message_a_crash_left_unrecorded_goes_out_again_once_marked(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = Budget(1)
    utilities = worker(harness, budget)
    await file(harness, 4)
    monkeypatch.setattr(harness.bot.delivery.combined, "_record", Crash.throw)
    with pytest.raises(Crash):
        await utilities.run_once()
    monkeypatch.undo()  # the restarted process
    assert len(messages(harness)) == 1 and {r.card_state for r in (await rows(harness)).values()} == {
        "sending"
    }
    for item in harness.queue._items["utilities"].values():
        item.available_at = 0  # the dead process's lease has run out
    budget.slots = 1
    assert await utilities.run_once() == 4
    again = messages(harness)[1]  # one message for all four, not four cards
    assert again.params["text"].startswith(
        "<b>📥 Новые обращения: 4</b>\n<i>⟳ возможно, повтор после перезапуска</i>"
    )
    assert buttons(again) == [f"d:open:{n}" for n in range(1, 5)]
    assert [c.method for c in harness.gateway.sent_to(UTILITIES_CHAT)] == ["sendMessage"] * 2  # no edits
    for row in (await rows(harness)).values():
        assert (row.card_state, row.card_message_id, row.card_repeat, row.card_batch) == (
            "combined",
            2,
            True,
            None,
        )
    assert (await harness.queue.stats("utilities")).depth == 0
    await harness.bot.delivery.refresh(1)  # a later re-render keeps the mark
    (edit,) = [c for c in harness.gateway.sent_to(UTILITIES_CHAT) if c.method == "editMessageText"]
    assert "⟳" in edit.params["text"]


async def test_a_card_a_crash_left_unrecorded_goes_out_again_marked(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    utilities = worker(harness, Budget(100))
    await file(harness, 1)
    monkeypatch.setattr(harness.bot.delivery, "_record_sent", Crash.throw)
    with pytest.raises(Crash):
        await utilities.run_once()
    monkeypatch.undo()
    for item in harness.queue._items["utilities"].values():
        item.available_at = 0
    await utilities.run_once()
    first, again = messages(harness)
    assert "⟳" not in first.params["text"]
    assert again.params["text"].startswith("<i>⟳ возможно, повтор после перезапуска</i>\n<b>Обращение №1</b>")
    row = (await rows(harness))[1]
    assert (row.card_state, row.card_message_id, row.card_repeat) == ("sent", 2, True)
    await file(harness, 3, first=2)  # the next cards are new ones: no mark
    await utilities.run_once()
    assert all("⟳" not in m.params["text"] for m in messages(harness)[2:])
