"""A mixed complaint end to end: its card shows the runner-up category, and a staff reroute clears it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.classifier.base import Classifier
from bot.config import Config
from tests.e2e.conftest import CITY_CHAT, RESIDENT, running_bot
from tests.e2e.test_desk import ROADS_CHAT, STAFF, UTILITIES_CHAT, complaint, press
from tests.fakes.bot_api import FakeBotAPI
from tests.unit.test_alternative_category import TornOnPotholes

MIXED = "@akim_astana нет горячей воды, а ещё яма у подъезда"


@pytest.fixture
def torn_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's classifier is the keywords engine, torn towards roads on texts about a pothole."""

    async def build(config: Config) -> Classifier:
        return TornOnPotholes(config)

    monkeypatch.setattr("tests.e2e.conftest.build_classifier", build)


def _button(call_params: dict[str, object], starts: str) -> str:
    markup = call_params["reply_markup"]
    assert isinstance(markup, dict)
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    return next(str(b["callback_data"]) for b in buttons if b["text"].startswith(starts))


@pytest.mark.usefixtures("torn_classifier")
async def test_the_card_shows_the_alternative_until_staff_reroute(
    fake: FakeBotAPI, config_factory: Callable[..., Config]
) -> None:
    config = config_factory()
    async with running_bot(config):
        fake.inject_message(CITY_CHAT, MIXED, from_user=RESIDENT)
        card = await fake.wait_for_call("sendMessage", chat_id=UTILITIES_CHAT)
        assert "Отопление и горячая вода" in (card.text or "")
        assert "🤔 или: Дороги и тротуары (38%; основная — 52%)" in (card.text or "")
        stored = await complaint(config, 1)
        assert (stored.alternative_category, stored.alternative_confidence) == ("roads", 0.38)
        # staff follow the hint: the department of roads, then its category
        await press(fake, STAFF, "d:reroute:1", card)
        picker = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT)
        await press(fake, STAFF, _button(picker.params, "Управление транспорта"), card)
        categories = await fake.wait_for_call("editMessageReplyMarkup", chat_id=UTILITIES_CHAT, count=2)
        await press(fake, STAFF, _button(categories.params, "Дороги и тротуары"), card)
        moved = await fake.wait_for_call("sendMessage", chat_id=ROADS_CHAT)
        # the staff chose: the new card asks nothing more
        assert "Дороги и тротуары" in (moved.text or "") and "🤔" not in (moved.text or "")
    rerouted = await complaint(config, 1)
    assert (rerouted.category, rerouted.alternative_category, rerouted.alternative_confidence) == (
        "roads",
        None,
        None,
    )
