"""Cards: links, language, and cutting inside Telegram's limits."""

from __future__ import annotations

from bot.cards import CAPTION_LIMIT, MESSAGE_LIMIT, CardData, CardRenderer, message_link
from bot.config import Config
from bot.i18n import CATALOG, LANGUAGES
from bot.text import utf16_len


def card(**overrides: object) -> CardData:
    values: dict[str, object] = {
        "number": 123,
        "text": "@akim_astana третий день нет отопления <b>",
        "category": "heating",
        "department": "utilities",
        "urgent": True,
        "district": "saryarka",
        "status": "delivered",
        "source": "group",
        "chat_id": -1001234567890,
        "message_id": 55,
        "chat_username": None,
        "chat_title": "Сарыарка & Co",
        "author": "Айгерим (@aigerim)",
        "officials": ("akim",),
    }
    values.update(overrides)
    return CardData(**values)  # type: ignore[arg-type]


def test_links() -> None:
    assert message_link(-1001234567890, 5, None) == "https://t.me/c/1234567890/5"
    assert message_link(-1001234567890, 5, "astana_chat") == "https://t.me/astana_chat/5"
    assert message_link(-4567, 5, None) is None  # basic groups have no links


def test_card_shows_everything_escaped(example_config: Config) -> None:
    text = CardRenderer(example_config).render(card())
    assert "СРОЧНО" in text and "№123" in text
    assert "Отопление и горячая вода" in text
    assert "Сарыарка" in text
    assert "Айгерим (@aigerim)" in text
    assert "Женис Касымбек" in text
    assert 'href="https://t.me/c/1234567890/55"' in text
    assert "&lt;b&gt;" in text and "Сарыарка &amp; Co" in text


def test_long_text_is_cut_inside_the_limits(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    long = card(text="😡 " + "нет воды & света " * 2000)
    assert utf16_len(renderer.render(long)) <= MESSAGE_LIMIT
    assert utf16_len(renderer.render(long, limit=CAPTION_LIMIT)) <= CAPTION_LIMIT


def test_keyboard_fits_callback_limit(example_config: Config) -> None:
    keyboard = CardRenderer(example_config).keyboard(10**12, "utilities")
    for row in keyboard:
        for button in row:
            assert button.callback_data is not None and len(button.callback_data.encode()) <= 64


def test_catalog_is_complete() -> None:
    for key, entry in CATALOG.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(value.strip() for value in entry.values()), key
