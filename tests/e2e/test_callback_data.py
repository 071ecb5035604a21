"""Buttons already on screen when the city edits its YAML: ids, not positions, decide what they do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import Config, load_config
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.conftest import CITY_CHAT, RESIDENT, running_bot
from tests.e2e.test_desk import ROADS_CHAT, STAFF, UTILITIES_CHAT, events, file_private, press
from tests.e2e.test_residents import Resident, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall


def _sections(name: str) -> list[dict[str, Any]]:
    dumped = load_config(EXAMPLE_CONFIG, environ={}).model_dump(by_alias=True, mode="json")
    rows: list[dict[str, Any]] = dumped[name]
    return rows


async def tagged_card(fake: FakeBotAPI) -> SentCall:
    """A resident tags the akim about hot water: the card that reaches utilities."""
    fake.inject_message(CITY_CHAT, "@akim_astana нет горячей воды третий день", from_user=RESIDENT)
    return await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)


async def card_with_picker(fake: FakeBotAPI) -> tuple[SentCall, SentCall]:
    """The utilities card of a tagged message, and its department picker after "reroute"."""
    card = await tagged_card(fake)
    await press(fake, STAFF, "d:reroute:1", card)
    return card, await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT)


def _button(call: SentCall, text: str) -> str:
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    return next(str(b["callback_data"]) for row in keyboard for b in row if b["text"].startswith(text))


async def test_a_picker_on_screen_still_names_the_same_department_after_the_config_is_reordered(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config):
        card, picker = await card_with_picker(fake)
    roads = _button(picker, "Управление транспорта")

    # the IT admin reorders departments and categories in the YAML and restarts the bot
    reordered = config_factory(
        departments=list(reversed(_sections("departments"))),
        categories=list(reversed(_sections("categories"))),
    )
    assert [d.id for d in reordered.departments] != [d.id for d in config.departments]
    async with running_bot(reordered):
        await press(fake, STAFF, roads, card)
        categories = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT, count=2)
        await press(fake, STAFF, _button(categories, "Дороги и тротуары"), card)
        moved = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
    assert "№1" in (moved.text or "")
    (reroute,) = [e for e in await events(config, 1) if e.action == "rerouted"]
    assert reroute.details["category"] == "roads"


async def test_a_positional_button_of_the_old_format_is_out_of_date_and_moves_nothing(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config):
        # today's buttons without a position (take, resolve, reroute …) keep their old format
        card, _ = await card_with_picker(fake)
        # yesterday's department picker carried a position in the config's list
        for data in ("d:to:1:0", "d:tc:1:3"):
            answer = await press(fake, STAFF, data, card)
            assert "устарела" in answer.params.get("text", "")
            assert answer.params.get("show_alert") is True
    assert [e.action for e in await events(config, 1) if e.action == "rerouted"] == []
    assert not fake.calls("sendMessage", chat_id=ROADS_CHAT)


async def test_a_forged_department_or_category_id_changes_nothing(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config):
        card = await tagged_card(fake)
        for data in ("d:to:1:nowhere", "d:tc:1:no_such_category", "d:to:1:utilities", "d:to:1:#0123456789"):
            answer = await press(fake, STAFF, data, card)
            assert "неактуальна" in answer.params.get("text", "")
    sent_to = {c.params["chat_id"] for c in fake.calls("sendMessage")}
    assert UTILITIES_CHAT in sent_to and not sent_to & {ROADS_CHAT, -1001000000003, -1001000000004}
    assert [e.action for e in await events(config, 1) if e.action == "rerouted"] == []


async def test_a_residents_old_category_picker_is_out_of_date_and_the_new_one_works(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 730001, language_code="ru")
    async with running_bot(config_factory()):
        summary = await resident.send("Яма на дороге у дома на Кенесары 40, машины бьют колёса")
        draft_id = data_starting(summary, "r:send:").split(":")[-1]
        old = fake.callback_update(resident.user, f"r:set:0:{draft_id}", summary)
        fake.inject(old)
        answer = await fake.wait_for_call(
            "answerCallbackQuery",
            where=lambda c: c.params.get("callback_query_id") == old["callback_query"]["id"],
        )
        assert "устарела" in answer.params.get("text", "")

        picker = await resident.press(summary, data_starting(summary, "r:cat:"))
        chosen = _button(picker, "Дороги и тротуары")
        assert chosen == f"r:set:{draft_id}:roads"
        changed = await resident.press(picker, chosen)
        filed = await resident.press(changed, data_starting(changed, "r:send:"))
        number = int((filed.text or "").split("№")[1].split()[0])
    assert number == 1
    card = fake.calls("sendMessage", chat_id=ROADS_CHAT)
    assert card and "Дороги" in (card[-1].text or "")


async def test_a_resident_button_pressed_in_a_department_chat_is_not_the_desks(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 730002, language_code="ru")
    async with running_bot(config_factory()):
        number = await file_private(fake, resident, "Третий день нет горячей воды в доме на Кенесары 40")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        answer = await press(fake, STAFF, f"r:fix:{number}:y", card)
        assert answer.params.get("text")
    assert "resolved" not in [e.action for e in await events(config_factory(), number)]
