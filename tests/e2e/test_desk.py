"""The department desk end to end: buttons, access control, resolution with comment, reopening."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select

from bot.app.resources import build_resources
from bot.config import Config
from storage.models import ComplaintEventRow, ComplaintRow
from tests.e2e.conftest import CITY_CHAT, RESIDENT, running_bot
from tests.e2e.test_residents import Resident, buttons, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001
ROADS_CHAT = -1001000000002
ENVIRONMENT_CHAT = -1001000000003
STAFF = 200001  # utilities staff and head in the example config
STRANGER = 555000


def card_state(fake: FakeBotAPI, chat_id: int, message_id: int) -> dict[str, object]:
    message = fake.message(chat_id, message_id)
    assert message is not None
    return message


async def press(
    fake: FakeBotAPI, user: int | dict[str, object], data: str, card: SentCall | tuple[int, int]
) -> SentCall:
    update = fake.callback_update(fake.user(user, "Staff") if isinstance(user, int) else user, data, card)
    fake.inject(update)
    query_id = update["callback_query"]["id"]
    return await fake.wait_for_call(
        "answerCallbackQuery", where=lambda c: c.params.get("callback_query_id") == query_id
    )


async def reply_to_prompt(fake: FakeBotAPI, prompt: SentCall, comment: str, resident: Resident) -> SentCall:
    """Staff answer the resolution prompt with `comment`; returns the resident's "resolved" notice."""
    fake.inject_message(
        UTILITIES_CHAT, comment, from_user=fake.user(STAFF, "Staff"), reply_to=prompt.result["message_id"]
    )
    return await fake.wait_for_call(
        "sendMessage", chat_id=resident.id, where=lambda c: "решённое" in (c.text or "")
    )


def prompts(fake: FakeBotAPI) -> list[SentCall]:
    """The resolution prompts sent to the utilities chat so far."""
    return fake.calls("sendMessage", chat_id=UTILITIES_CHAT, where=lambda c: "ответьте" in (c.text or ""))


async def file_private(fake: FakeBotAPI, resident: Resident, text: str) -> int:
    summary = await resident.send(text)
    filed = await resident.press(summary, data_starting(summary, "r:send:"))
    return int((filed.text or "").split("№")[1].split()[0])


async def events(config: Config, number: int) -> list[ComplaintEventRow]:
    async with build_resources(config, prepare=False) as resources, resources.unit_of_work() as uow:
        return list(await uow.complaints.events(number))


async def complaint(config: Config, number: int) -> ComplaintRow:
    async with build_resources(config, prepare=False) as resources, resources.unit_of_work() as uow:
        row = (await uow.session.scalars(select(ComplaintRow).where(ComplaintRow.id == number))).one()
        return row


async def test_forged_press_from_a_stranger_changes_nothing(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config):
        source = fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды", from_user=RESIDENT)
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        before = card_state(fake, UTILITIES_CHAT, card.result["message_id"])
        answer = await press(fake, STRANGER, "d:resolve:1", card)
        assert answer.params.get("show_alert") is True
        assert "сотрудники" in answer.params.get("text", "")
        for forged in ("d:rnc:1", "d:take:1:9:9", "d:dof:1:1", "x" * 64, "d:to:1:99"):
            answer = await press(fake, STRANGER, forged, card)
            assert answer.params.get("show_alert") is True
        # numbers that are digits to str.isdigit() but not to int(), or too big for the database
        for forged in ("d:take:²", "d:take:99999999999999999999999", "d:to:1:²", "d:take:-1"):
            answer = await press(fake, STAFF, forged, card)
            assert answer.params.get("show_alert") is True
        # staff pressing a forged button on a message in another chat is refused too
        answer = await press(fake, STAFF, "d:take:1", (CITY_CHAT, source["message"]["message_id"]))
        assert answer.params.get("show_alert") is True
        await asyncio.sleep(0.2)
        assert card_state(fake, UTILITIES_CHAT, card.result["message_id"]) == before
    assert (await complaint(config, 1)).status == "delivered"


async def test_take_resolve_with_comment_and_reopen(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    resident = Resident(fake, 720001, language_code="ru")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        card_id = card.result["message_id"]

        await press(fake, STAFF, f"d:take:{number}", card)
        taken = await fake.wait_for_call(
            "sendMessage", chat_id=resident.id, where=lambda c: "взято в работу" in (c.text or "")
        )
        assert f"№{number}" in (taken.text or "")
        # the resident's notice and the card's edit go out side by side: wait for the edit
        await fake.wait_for(
            lambda _: "в работе — Staff" in str(card_state(fake, UTILITIES_CHAT, card_id)["text"])
        )
        state = card_state(fake, UTILITIES_CHAT, card_id)
        assert "в работе — Staff" in str(state["text"])
        assert "d:take" not in str(state.get("reply_markup"))

        await press(fake, STAFF, f"d:resolve:{number}", card)
        prompt = await fake.wait_for_call(
            "sendMessage", chat_id=UTILITIES_CHAT, where=lambda c: "ответьте" in (c.text or "")
        )
        resolved = await reply_to_prompt(fake, prompt, "Заменили задвижку, вода есть", resident)
        assert "Заменили задвижку" in (resolved.text or "")
        await fake.wait_for(
            lambda _: "решено" in str(card_state(fake, UTILITIES_CHAT, card_id)["text"]), timeout=15
        )
        state = card_state(fake, UTILITIES_CHAT, card_id)
        assert "решено" in str(state["text"]) and not state.get("reply_markup")

        # a stale button on the closed card says why and changes nothing
        answer = await press(fake, STAFF, f"d:take:{number}", card)
        assert "закрыто" in answer.params.get("text", "")

        # the resident says it is not fixed: reopened, and a fresh card goes to the department
        await resident.press(resolved, buttons(resolved)["👎 Нет, не решена"])
        fresh = await fake.wait_for_call(
            "sendMessage", chat_id=UTILITIES_CHAT, where=lambda c: "открыто повторно: 1" in (c.text or "")
        )
        assert f"№{number}" in (fresh.text or "")
    row = await complaint(config, number)
    assert row.status == "delivered" and row.reopen_count == 1
    actions = [e.action for e in await events(config, number)]
    assert actions[:3] == ["created", "queued", "delivered"]
    assert "in_progress" in actions and "resolved" in actions and "reopened" in actions


async def test_a_press_still_in_hand_is_not_claimed_again_by_the_next_round(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    """A button press names its chat only inside the update, so the inbox row has no chat; while the
    press is being handled, the processor's next claim (woken by any other update) must not take the
    same row again: a second run would ask for a second resolution comment and orphan the first."""
    config = config_factory()
    resident = Resident(fake, 720011, language_code="ru")
    other = Resident(fake, 720012, language_code="ru")
    async with running_bot(config):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 42")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)

        held = fake.hold_next("answerCallbackQuery")
        update = fake.callback_update(fake.user(STAFF, "Staff"), f"d:resolve:{number}", card)
        fake.inject(update)
        query_id = update["callback_query"]["id"]
        await fake.wait_for(lambda _: "answerCallbackQuery" in fake.holding)
        # another chat's update wakes the processor, which claims again while the press is in hand
        await other.send("/start")
        await asyncio.sleep(0.5)
        held.set()
        prompt = await fake.wait_for(lambda _: prompts(fake) and prompts(fake)[0], timeout=15)
        await asyncio.sleep(1.0)  # time for a second run of the same press, were there one
        answers = [
            c
            for c in fake.calls("answerCallbackQuery", ok=None)
            if c.params.get("callback_query_id") == query_id
        ]
        assert len(answers) == 1
        assert len(prompts(fake)) == 1

        resolved = await reply_to_prompt(fake, prompt, "Заменили задвижку, вода есть", resident)
        assert "Заменили задвижку" in (resolved.text or "")


async def test_the_same_resolve_press_handled_twice_asks_for_one_comment(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    """A press handled again — its row retried after an outage that struck past the commit, or after a
    crash — must not ask again: a second prompt would orphan the first, and the staff member's reply to
    it would resolve nothing."""
    resident = Resident(fake, 720021, language_code="ru")
    async with running_bot(config_factory()):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 44")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        update = fake.callback_update(fake.user(STAFF, "Staff"), f"d:resolve:{number}", card)
        fake.inject(update)
        prompt = await fake.wait_for(lambda _: prompts(fake) and prompts(fake)[0], timeout=15)
        query_id = update["callback_query"]["id"]
        # the very same press once more, under another update id (the inbox dedupes on that id alone)
        fake.inject({key: value for key, value in update.items() if key != "update_id"})
        await fake.wait_for_call(
            "answerCallbackQuery",
            ok=None,
            count=2,
            where=lambda c: c.params.get("callback_query_id") == query_id,
        )
        await asyncio.sleep(0.5)
        assert len(prompts(fake)) == 1
        resolved = await reply_to_prompt(fake, prompt, "Заменили задвижку, вода есть", resident)
        assert "Заменили задвижку" in (resolved.text or "")


async def test_reroute_moves_the_card_and_records_the_correction(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config):
        fake.inject_message(
            CITY_CHAT, "@akim_astana нет горячей воды, а ещё яма у подъезда", from_user=RESIDENT
        )
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, "d:reroute:1", card)
        picker = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT)
        roads = next(
            b["callback_data"]
            for row in picker.params["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"].startswith("Управление транспорта")
        )
        await press(fake, STAFF, roads, card)
        # the department owns two categories: the second picker asks which
        categories = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT, count=2)
        pothole = next(
            b["callback_data"]
            for row in categories.params["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"] == "Дороги и тротуары"
        )
        await press(fake, STAFF, pothole, card)
        moved = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        assert "№1" in (moved.text or "") and "Дороги" in (moved.text or "")
        await fake.wait_for(
            lambda _: "передано в" in str(card_state(fake, UTILITIES_CHAT, card.result["message_id"])["text"])
        )
        # the old card's buttons are gone, and a forged press on it is refused
        answer = await press(fake, STAFF, "d:take:1", card)
        assert answer.params.get("show_alert") is True
    (reroute,) = [e for e in await events(config, 1) if e.action == "rerouted"]
    assert reroute.details["category"] == "roads"
    assert reroute.details["previous_category"] == "heating"


async def test_duplicates_merge_and_every_reporter_hears_the_resolution(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    first = Resident(fake, 720011, language_code="ru")
    second = Resident(fake, 720012, language_code="kk")
    async with running_bot(config):
        one = await file_private(fake, first, "Нет горячей воды в доме Абая 10, уже второй день")
        card_one = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        summary = await second.send("Абая 10 үйде ыстық су жоқ, екінші күн")
        await second.press(summary, data_starting(summary, "r:send:"))
        card_two = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT, count=2)
        two = int((card_two.text or "").split("№")[1].split()[0])

        await press(fake, STAFF, f"d:duplicate:{two}", card_two)
        picker = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT)
        target = next(
            b["callback_data"]
            for row in picker.params["reply_markup"]["inline_keyboard"]
            for b in row
            if f"№{one}" in b["text"]
        )
        await press(fake, STAFF, target, card_two)
        await fake.wait_for(
            lambda _: "+1" in str(card_state(fake, UTILITIES_CHAT, card_one.result["message_id"])["text"])
        )
        await fake.wait_for_call(
            "sendMessage", chat_id=second.id, where=lambda c: "біріктірілді" in (c.text or "")
        )

        await press(fake, STAFF, f"d:resolve:{one}", card_one)
        await press(fake, STAFF, f"d:rnc:{one}", card_one)
        await fake.wait_for_call(
            "sendMessage", chat_id=first.id, where=lambda c: "решённое" in (c.text or "")
        )
        await fake.wait_for_call(
            "sendMessage", chat_id=second.id, where=lambda c: "шешілді" in (c.text or "")
        )
