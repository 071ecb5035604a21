"""Every HTML message stays valid Telegram HTML with hostile names and texts, and shows them literally.

The parser is the fake Bot API's, which parses parse_mode=HTML the way Telegram does.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config import Config
from bot.core.text import escape_html
from bot.telegram import CAPTION_LIMIT
from bot.views.cards import CardData, CardRenderer, CombinedLine
from bot.views.digest_text import DigestRecipient, DigestRenderer, Spike, _Item, _Link, _Stats
from bot.views.i18n import CATALOG, LANGUAGES, t, t_html
from tests.fakes.bot_api import BotAPIError, parse_html

HOSTILE = (
    "<b>",
    "&",
    "<",
    ">",
    '"',
    "</a>",
    "<script>alert(1)</script>",
    "🏗️ 👩‍👩‍👧",
    "&amp;",
    "R&D <i>x</i> &lt;b&gt; ' \" </blockquote>",
)


def plain(html_text: str) -> str:
    """What Telegram shows for `html_text`; fails the test when Telegram would refuse it."""
    try:
        text, _ = parse_html(html_text)
    except BotAPIError as exc:  # pragma: no cover - the failure message
        pytest.fail(f"invalid HTML ({exc.description}): {html_text!r}")
    return text


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_template_is_the_same_text_in_html_and_plain() -> None:
    # the same key goes out as plain text (t) and as HTML (t_html): no markup, no "&" entities in it
    for key, entry in CATALOG.items():
        for language in LANGUAGES:
            template = entry[language]
            assert plain(template) == template, (key, language)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_template_escapes_every_value(hostile: str) -> None:
    for key, entry in CATALOG.items():
        for language in LANGUAGES:
            values = {name: f"{hostile}{name}{hostile}" for name in _fields(entry[language])}
            shown = plain(t_html(key, language, **values))
            assert shown == t(key, language, **values), (key, language)
            for value in values.values():
                assert value in shown


def test_plain_texts_are_not_escaped() -> None:
    text = t("notify.rerouted", "ru", number=5, department="R&D <отдел>")
    assert "R&D <отдел>" in text and "&amp;" not in text


def hostile_config(config: Config, hostile: str, language: str) -> Config:
    """Every name a card, a combined message or a digest shows, made hostile; departments in `language`."""
    data: dict[str, Any] = config.model_dump(by_alias=True, mode="json")
    for section in ("departments", "categories", "districts", "officials"):
        for item in data[section]:
            item["name"] = {lang: f"{hostile} {item['id']} {hostile}" for lang in LANGUAGES}
            if section == "departments":
                item["language"] = language
    data["city"] = f"{hostile} city"
    return Config.model_validate(data)


def card(hostile: str, **overrides: Any) -> CardData:
    values: dict[str, Any] = {
        "number": 42,
        "text": f"{hostile} нет отопления {hostile} " * 3,
        "category": "heating",
        "department": "utilities",
        "urgent": True,
        "district": "almaty",
        "status": "in_progress",
        "source": "group",
        "chat_id": -1001234567890,
        "message_id": 55,
        "chat_username": None,
        "chat_title": f"{hostile} chat",
        "author": f"{hostile} author",
        "officials": ("akim", "deputy_utilities"),
        "photos": 2,
        "has_location": True,
        "needs_triage": True,
        "edited": True,
        "reopened": 1,
        "duplicates": 3,
        "actor": f"{hostile} staff",
        "phone": None,
    }
    values.update(overrides)
    return CardData(**values)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_cards_and_combined_messages(example_config: Config, hostile: str, language: str) -> None:
    config = hostile_config(example_config, hostile, language)
    renderer = CardRenderer(config)
    names = [f"{hostile} {name} {hostile}" for name in ("heating", "almaty", "akim", "deputy_utilities")]
    for data in (card(hostile), card(hostile, source="private", phone=f"{hostile}77015551234")):
        for limit in (4096, CAPTION_LIMIT, 300):
            shown = plain(renderer.render(data, limit=limit))
            assert all(name in shown for name in names), shown
            assert f"{hostile} author" in shown and f"{hostile} staff" in shown
            assert hostile in shown.split("\n\n", 1)[1]  # the resident's text, even when cut
        assert f"{hostile} chat" in plain(renderer.render(card(hostile)))
    long = card(hostile, text=(hostile + " ") * 2000)
    assert len(plain(renderer.render(long, limit=CAPTION_LIMIT)).encode("utf-16-le")) <= 2 * CAPTION_LIMIT

    moved = card(hostile, department="transport_roads", status="delivered")
    lines = [
        CombinedLine(card(hostile, number=n, status="delivered"), state)
        for n, state in enumerate(("waiting", "opening", "opened"), start=1)
    ] + [CombinedLine(moved, "moved"), CombinedLine(card(hostile, number=9, status="resolved"))]
    shown = plain(renderer.render_combined("utilities", lines))
    assert f"{hostile} transport_roads {hostile}" in shown and f"{hostile} heating {hostile}" in shown
    assert f"{hostile} chat" in shown
    many = [CombinedLine(card(hostile, number=n, text=(hostile + " ") * 300)) for n in range(1, 21)]
    plain(renderer.render_combined("utilities", many))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_digests(example_config: Config, hostile: str, language: str) -> None:
    config = hostile_config(example_config, hostile, language)
    renderer = DigestRenderer(config)
    link = _Link("group", -1001234567890, 7, None)
    stats = _Stats(
        new=5,
        new_prev=2,
        resolved=1,
        overdue=1,
        by_department={"utilities": [3, 1, 1, 1], "transport_roads": [2, 1, 0, 0]},
        by_category={"heating": [3, 1, 1], "roads": [2, 1, 0]},
        places=[("heating", "almaty", 3, link), ("roads", None, 2, None)],
        repeated=[_Item(7, "heating", "almaty", "delivered", link, count=4)],
        urgent=[_Item(8, "roads", None, "in_progress", link)],
        urgent_total=3,
        spikes=[Spike("category", "heating", 5, 1.0, 1.0), Spike("district", "almaty", 4, 1.0, 1.0)],
        spike_windows=28,
        medians={"utilities": (3600.0, 6), "transport_roads": (7200.0, 5)},
    )
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    for recipient in (
        DigestRecipient("official:akim", 1, language, None),
        DigestRecipient("head:utilities", 2, language, "utilities"),
    ):
        shown = plain(renderer.render(stats, recipient, start, end))
        assert f"{hostile} city" in shown and f"{hostile} heating {hostile}" in shown
        assert f"{hostile} almaty {hostile}" in shown
        assert f"{hostile} utilities {hostile}" in shown
        caption = plain(renderer.caption(stats, recipient, start, end))
        if recipient.department_id is not None:
            assert f"{hostile} utilities {hostile}" in caption


def test_escape_html_is_reversible_by_telegram() -> None:
    for hostile in HOSTILE:
        assert plain(escape_html(hostile)) == hostile
        assert plain(f'<a href="{escape_html("https://x.y/?a=1&b=" + hostile, quote=True)}">x</a>') == "x"
