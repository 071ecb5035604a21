"""Parsing what residents send besides text, and the shared phone on cards (rendering only)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bot.config import Config
from bot.core.events import IncomingMessage, parse_update
from bot.views.cards import CardData, CardRenderer, CombinedLine
from tests.fakes.bot_api import parse_html


def private_message(**fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 9,
        "date": 1_700_000_000,
        "chat": {"id": 700001, "type": "private", "first_name": "Айгерим"},
        "from": {"id": 700001, "is_bot": False, "first_name": "Айгерим"},
    }
    message.update(fields)
    return {"update_id": 3, "message": message}


def parsed(**fields: Any) -> IncomingMessage:
    event = parse_update(private_message(**fields))
    assert isinstance(event, IncomingMessage)
    return event


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(1000.0, 71.0), (51.0, 180.5), (-91.0, 0.0), (math.nan, 71.0), (51.0, math.inf), ("51", 71.0)],
)
def test_an_impossible_location_is_a_location_without_coordinates(latitude: Any, longitude: Any) -> None:
    event = parsed(location={"latitude": latitude, "longitude": longitude})
    assert event.content_type == "location" and event.location is None


def test_a_possible_location_is_kept() -> None:
    event = parsed(location={"latitude": -90.0, "longitude": 180.0})
    assert event.location is not None and (event.location.latitude, event.location.longitude) == (
        -90.0,
        180.0,
    )


def test_a_document_is_a_document_and_its_caption_the_text() -> None:
    file = {"file_id": "d1", "file_unique_id": "u1", "file_name": "akt.pdf", "mime_type": "application/pdf"}
    event = parsed(document=file, caption="Нет воды, акт во вложении")
    assert event.content_type == "document"
    assert event.text == "Нет воды, акт во вложении" and event.photos == ()
    assert parsed(document=file).text == ""


def card(**overrides: Any) -> CardData:
    values: dict[str, Any] = {
        "number": 7,
        "text": "Нет горячей воды",
        "category": "heating",
        "department": "utilities",
        "urgent": False,
        "district": None,
        "status": "delivered",
        "source": "private",
        "chat_id": 700001,
        "message_id": 5,
        "chat_username": None,
        "chat_title": None,
        "author": "Айгерим (@aigerim)",
        "officials": (),
        "phone": "77015551234",
    }
    values.update(overrides)
    return CardData(**values)


def shown(html_text: str) -> str:
    return parse_html(html_text)[0]


def test_the_phone_is_on_the_card_of_a_private_complaint_only(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    assert "Автор: Айгерим (@aigerim) · 📞 +77015551234" in shown(renderer.render(card()))
    assert "📞 +7 701 555" in shown(renderer.render(card(phone="+7 701 555 12 34")))
    assert "📞" not in shown(renderer.render(card(phone=None)))
    # a chat's complaint never shows a phone, even if one was passed in
    group = card(source="group", chat_id=-1001234567890, chat_title="Чат")
    assert "📞" not in shown(renderer.render(group))
    # after erasure there is no author and no phone; a phone alone still has its line
    assert "📞" not in shown(renderer.render(card(author=None, phone=None)))
    assert "📞 +77015551234" in shown(renderer.render(card(author=None)))
    # combined messages are summaries: the phone is on the complaint's own card
    combined = renderer.render_combined("utilities", [CombinedLine(card()), CombinedLine(card(number=8))])
    assert "📞" not in shown(combined) and "77015551234" not in shown(combined)
