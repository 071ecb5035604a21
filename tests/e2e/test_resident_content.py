"""What a resident may send besides text: impossible locations, and files with or without a caption."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.config import Config
from tests.e2e.conftest import running_bot
from tests.e2e.test_residents import Resident, buttons, data_starting
from tests.fakes.bot_api import FakeBotAPI, SentCall

UTILITIES_CHAT = -1001000000001
COMPLAINT = "Третий день нет горячей воды в доме на Абая 10, подъезд 2"


async def send_update(resident: Resident, message: dict[str, Any], replies: int = 1) -> list[SentCall]:
    """Inject a hand-made private message and wait for the bot's `replies` answers to it."""
    before = len(resident.said())
    update = resident.fake.message_update(resident.id, from_user=resident.user)
    update["message"].update(message)
    resident.fake.inject(update)
    await resident.fake.wait_for(lambda _: len(resident.said()) >= before + replies)
    return resident.said()[before:]


def document(name: str = "akt.pdf", mime: str = "application/pdf") -> dict[str, Any]:
    return {"file_id": f"doc-{name}", "file_unique_id": f"u-{name}", "file_name": name, "mime_type": mime}


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(1000.0, 71.43), (51.13, 181.0), (-90.5, 0.0), (51.13, -1000.0)]
)
async def test_an_impossible_location_is_called_invalid_and_the_draft_kept(
    fake: FakeBotAPI, config_factory: Callable[..., Config], latitude: float, longitude: float
) -> None:
    resident = Resident(fake, 750001, language_code="ru")
    async with running_bot(config_factory()):
        alone = await resident.send(location=(latitude, longitude))
        assert "недействительна" in (alone.text or "") and "коротко" not in (alone.text or "")
        summary = await resident.send(COMPLAINT)
        assert "Геолокация: нет" in (summary.text or "")
        (answer,) = await send_update(resident, {"location": {"latitude": latitude, "longitude": longitude}})
        assert "недействительна" in (answer.text or "")
        # the draft is as it was: the text kept, no location added, still ready to send
        summary = await resident.send(location=(51.128, 71.430))
        assert "Геолокация: есть" in (summary.text or "")
        filed = await resident.press(summary, data_starting(summary, "r:send:"))
        assert "принято" in (filed.text or "")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        assert "нет горячей воды" in (card.text or "")


@pytest.mark.parametrize("language", ["ru", "kk", "en"])
async def test_an_invalid_location_is_answered_in_the_residents_language(
    fake: FakeBotAPI, config_factory: Callable[..., Config], language: str
) -> None:
    resident = Resident(fake, 750002, language_code=language)
    async with running_bot(config_factory()):
        (answer,) = await send_update(resident, {"location": {"latitude": 1000.0, "longitude": 71.43}})
        expected = {"ru": "недействительна", "kk": "жарамсыз", "en": "invalid"}[language]
        assert expected in (answer.text or "")


async def test_a_documents_caption_is_the_complaint_text(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 750003, language_code="ru")
    async with running_bot(config_factory()):
        (summary,) = await send_update(resident, {"document": document(), "caption": COMPLAINT})
        assert "Отопление и горячая вода" in (summary.text or "") and buttons(summary)
        assert "Фото: 0" in (summary.text or "")  # the file itself is not passed on
        filed = await resident.press(summary, data_starting(summary, "r:send:"))
        assert "принято" in (filed.text or "")
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        assert COMPLAINT in (card.text or "")


async def test_an_image_sent_as_a_file_with_a_caption_is_taken_like_a_photos_caption(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 750004, language_code="en")
    async with running_bot(config_factory()):
        picture = document("IMG_0001.JPG", "image/jpeg")
        (summary,) = await send_update(resident, {"document": picture, "caption": COMPLAINT})
        assert "Send it?" in (summary.text or "") and "Photos: 0" in (summary.text or "")


async def test_a_document_without_caption_gets_an_explanation(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    resident = Resident(fake, 750005, language_code="en")
    async with running_bot(config_factory()):
        (answer,) = await send_update(resident, {"document": document()})
        assert "describe the problem in text" in (answer.text or "") and "files" in (answer.text or "")
        assert "too short" not in (answer.text or "")
