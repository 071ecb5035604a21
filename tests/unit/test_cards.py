"""Cards: links, language, and cutting inside Telegram's limits."""

from __future__ import annotations

import re

from bot.config import Config
from bot.core.text import utf16_len
from bot.telegram import CAPTION_LIMIT, MESSAGE_LIMIT
from bot.views.cards import CardData, CardRenderer, CombinedLine, message_link
from bot.views.i18n import CATALOG, LANGUAGES


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


def lines_of(*cards: CardData, state: str = "waiting") -> list[CombinedLine]:
    return [CombinedLine(c, state) for c in cards]


def well_formed(html: str) -> bool:
    """Tags balanced and every & an entity: what Telegram's HTML parser insists on."""
    stack: list[str] = []
    for closing, tag in re.findall(r"<(/?)([a-z]+)[^>]*>", html):
        if closing:
            if not stack or stack.pop() != tag:
                return False
        else:
            stack.append(tag)
    return not stack and re.search(r"&(?!amp;|lt;|gt;|quot;)", html) is None


def test_combined_message_lists_each_complaint_briefly(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    members = [
        card(number=101, urgent=False, text="нет воды <script> & света\n\nвторой абзац"),
        card(number=102, urgent=False, source="private", district=None, photos=2),
        card(number=103, urgent=False, chat_username="astana_chat", duplicates=3),
    ]
    text = renderer.render_combined("utilities", lines_of(*members))
    assert text.startswith("<b>📥 Новые обращения: 3</b>")
    for number in (101, 102, 103):
        assert text.count(f"№{number}") == 1
    assert "Отопление и горячая вода · Сарыарка" in text
    assert "нет воды &lt;script&gt; &amp; света второй абзац" in text  # one line, escaped
    assert 'href="https://t.me/c/1234567890/55"' in text and 'href="https://t.me/astana_chat/55"' in text
    assert "личное сообщение боту" in text and "Фото: 2" in text and "+3" in text
    assert "СРОЧНО" not in text
    assert well_formed(text)
    keyboard = renderer.combined_keyboard("utilities", lines_of(*members))
    assert keyboard is not None
    buttons = [b for row in keyboard for b in row]
    assert [b.callback_data for b in buttons] == ["d:open:101", "d:open:102", "d:open:103"]
    assert buttons[0].text == "№101 ▸ открыть"
    assert all(len(row) <= 2 for row in keyboard)


def test_combined_message_speaks_the_department_language(example_config: Config) -> None:
    data = example_config.model_dump(by_alias=True)
    for department in data["departments"]:
        department["language"] = "kk" if department["id"] == "utilities" else "en"
    config = Config.model_validate(data)
    renderer = CardRenderer(config)
    kk = renderer.render_combined("utilities", lines_of(card(number=7), card(number=8)))
    assert "Жаңа өтініштер: 2" in kk and "№7" in kk
    en_keyboard = renderer.combined_keyboard("transport_roads", lines_of(card(number=9)))
    assert en_keyboard is not None and en_keyboard[0][0].text == "#9 ▸ open"


def test_combined_message_stays_inside_the_limit(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    hostile = "😡 <b>&amp; " * 900  # emoji count twice in UTF-16, & and < grow when escaped
    members = [
        card(
            number=10**9 + n, text=hostile, chat_username="a" * 32, photos=5, has_location=True, duplicates=99
        )
        for n in range(20)
    ]
    for limit in (MESSAGE_LIMIT, 3000):
        text = renderer.render_combined("utilities", lines_of(*members), limit=limit)
        assert utf16_len(text) <= limit
        assert well_formed(text)
        for member in members:  # every complaint keeps its line and its link
            assert text.count(f"№{member.number}") == 1
        assert text.count('href="https://t.me/') == 20
    few = renderer.render_combined("utilities", lines_of(*members[:3]))
    assert "😡 &lt;b&gt;&amp;amp;" in few  # three complaints leave room for some of each text
    assert utf16_len(few) <= MESSAGE_LIMIT


def test_opened_and_moved_lines_lose_their_button(example_config: Config) -> None:
    renderer = CardRenderer(example_config)
    lines = [
        CombinedLine(card(number=1, urgent=False)),
        CombinedLine(card(number=2, urgent=False), "opened"),
        CombinedLine(card(number=3, urgent=False), "opening"),
        CombinedLine(card(number=4, urgent=False, department="transport_roads"), "moved"),
        CombinedLine(card(number=5, urgent=False, status="rejected")),
    ]
    text = renderer.render_combined("utilities", lines)
    assert "открыто отдельной карточкой" in text
    assert "карточка отправляется" in text
    assert "передано: Управление транспорта" in text
    assert "отклонено" in text
    keyboard = renderer.combined_keyboard("utilities", lines)
    assert keyboard is not None
    assert [b.callback_data for row in keyboard for b in row] == ["d:open:1"]
    assert renderer.combined_keyboard("utilities", lines[1:]) is None
