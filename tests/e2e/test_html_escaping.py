"""Hostile names from the config reach Telegram HTML-escaped: every HTML message parses, shows them literally.

The fake Bot API parses parse_mode=HTML like Telegram: a stray "<" makes the request fail with 400
"can't parse entities", and "&amp;" in a name would be shown as "&" if it were not escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import Config
from tests.e2e.conftest import CITY_CHAT, RESIDENT, running_bot
from tests.e2e.test_desk import press
from tests.e2e.test_residents import Resident, buttons, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001
ROADS_CHAT = -1001000000002
STAFF = 200001  # utilities staff in the example config

DEPARTMENT = "Городская среда & <озеленение> &amp; ‹парки›"
CATEGORY = "Дороги <b>& тротуары</b> &lt;"
DISTRICT = "Алматы </a> <script>"
OFFICIAL = 'Аким "<i>города</i>" & Co'


def hostile(config_factory: Callable[..., Config], **sections: Any) -> Config:
    """The e2e config with names that are invalid HTML unless escaped, in every language."""
    data: dict[str, Any] = config_factory().model_dump(by_alias=True, mode="json")
    for department in data["departments"]:
        if department["id"] == "transport_roads":
            department["name"] = {lang: f"{DEPARTMENT} {lang}" for lang in ("ru", "kk", "en")}
    for category in data["categories"]:
        if category["id"] == "roads":
            category["name"] = {lang: f"{CATEGORY} {lang}" for lang in ("ru", "kk", "en")}
    for district in data["districts"]:
        if district["id"] == "almaty":
            district["name"] = {lang: f"{DISTRICT} {lang}" for lang in ("ru", "kk", "en")}
    for official in data["officials"]:
        if official["id"] == "akim":
            official["name"] = {lang: f"{OFFICIAL} {lang}" for lang in ("ru", "kk", "en")}
    names = {key: data[key] for key in ("departments", "categories", "districts", "officials")}
    return config_factory(**names, **sections)


def refused(fake: FakeBotAPI) -> list[SentCall]:
    """Every call Telegram would have refused for its HTML."""
    return [c for c in fake.calls() if not c.ok and "can't parse entities" in (c.description or "")]


async def test_reroute_into_a_hostile_department_retires_the_old_card(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = hostile(config_factory)
    async with running_bot(config):
        fake.inject_message(
            CITY_CHAT,
            "@akim_astana Алматинский район: нет горячей воды, а ещё яма у подъезда",
            from_user=RESIDENT,
        )
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        assert f"{OFFICIAL} ru" in (card.text or "") and f"{DISTRICT} ru" in (card.text or "")
        await press(fake, STAFF, "d:reroute:1", card)
        picker = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT)
        target = next(d for text, d in buttons(picker).items() if text.startswith(DEPARTMENT))
        await press(fake, STAFF, target, card)
        categories = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT, count=2)
        pothole = next(d for text, d in buttons(categories).items() if text.startswith(CATEGORY))
        answer = await press(fake, STAFF, pothole, card)
        assert f"{DEPARTMENT} ru" in answer.params.get("text", "")  # a plain pop-up: shown as it is

        moved = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        assert f"{CATEGORY} ru" in (moved.text or "")
        # the old card is edited to say where it went, the hostile name literally, and loses its buttons
        retired = await fake.wait_for_call("editMessageText", chat_id=UTILITIES_CHAT)
        assert retired.ok, retired.description
        assert f"передано в {DEPARTMENT} ru" in (retired.text or "")
        state = fake.message(UTILITIES_CHAT, card.result["message_id"])
        assert state is not None and not state.get("reply_markup")
        assert f"{DEPARTMENT} ru" in str(state["text"])
    assert refused(fake) == []


async def test_a_private_summary_with_hostile_names_is_edited_in_place(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 730001, language_code="ru")
    async with running_bot(hostile(config_factory)):
        summary = await resident.send("Во дворе на Туран 5 сломаны качели, дети могут пораниться")
        picker = await resident.press(summary, data_starting(summary, "r:cat:"))
        roads = next(d for text, d in buttons(picker).items() if text.startswith(CATEGORY))
        changed = await resident.press(picker, roads)
        # the summary is the same message, edited: plain text shown as it is, no "&amp;" nor lost "<b>"
        assert changed.method == "editMessageText" and changed.ok, changed.description
        assert f"Категория: {CATEGORY} ru" in (changed.text or "")
        assert f"Отдел: {DEPARTMENT} ru" in (changed.text or "")
        filed = await resident.press(changed, data_starting(changed, "r:send:"))
        assert filed.method == "editMessageText" and filed.ok, filed.description
        assert f"{DEPARTMENT} ru" in (filed.text or "")
        card = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        assert card.ok and f"{CATEGORY} ru" in (card.text or "")
    assert refused(fake) == []


async def test_a_rerouted_photo_card_is_retired_in_its_caption(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 730002, language_code="ru")
    async with running_bot(hostile(config_factory)):
        summary = await resident.send(caption="Третий день нет горячей воды в доме на Абая 10", photo=True)
        await resident.press(summary, data_starting(summary, "r:send:"))
        card = await fake.wait_for_call("sendPhoto", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, "d:reroute:1", card)
        picker = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT)
        target = next(d for text, d in buttons(picker).items() if text.startswith(DEPARTMENT))
        await press(fake, STAFF, target, card)
        categories = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT, count=2)
        await press(
            fake, STAFF, next(d for t, d in buttons(categories).items() if t.startswith(CATEGORY)), card
        )
        await fake.wait_for_call("sendPhoto", chat_id=ROADS_CHAT)
        # a photo card has no text to edit: its caption says where it went, and its buttons are gone
        retired = await fake.wait_for_call("editMessageCaption", chat_id=UTILITIES_CHAT)
        assert f"передано в {DEPARTMENT} ru" in (retired.text or "")
        state = fake.message(UTILITIES_CHAT, card.result["message_id"])
        assert state is not None and not state.get("reply_markup")
        assert f"передано в {DEPARTMENT} ru" in str(state.get("caption"))
    assert refused(fake) == []
