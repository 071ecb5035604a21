"""Telegram text helpers: UTF-16 lengths and slices, truncation, splitting, HTML escaping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.text import (
    escape_html,
    parse_number,
    split_message,
    truncate,
    utf16_len,
    utf16_slice,
    utf16_span,
)

# Chat-like text: Cyrillic and Kazakh letters, spaces, line breaks, astral characters (two UTF-16 units),
# and any other well-formed character (no lone surrogates: Telegram's text is valid UTF-16).
CHAT_ALPHABET = st.one_of(
    st.sampled_from([*"ab Ққәі\n\t.@_", "🔥", "😂", "𝔸", "\U0010ffff"]),
    st.characters(codec="utf-8"),
)
chat_text = st.text(alphabet=CHAT_ALPHABET, max_size=300)


def utf16_reference_slice(text: str, offset: int, length: int) -> str:
    """What Telegram means by an entity: the UTF-16 code units [offset, offset + length) of the text."""
    data = text.encode("utf-16-le")
    start = max(offset, 0)
    end = max(offset + length, start)
    return data[2 * start : 2 * end].decode("utf-16-le", "surrogatepass")


# --- utf16_len / utf16_slice / utf16_span -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("akim", 4),
        ("Қасымбекке", 10),  # Kazakh letters are in the BMP: one unit each
        ("🔥", 2),
        ("🔥🔥 @akim_astana", 17),
        ("🇰🇿", 4),  # a flag is two regional indicators, each astral
        ("👨‍👩‍👧", 8),  # ZWJ sequence: three astral characters and two joiners
    ],
)
def test_utf16_len_counts_astral_characters_twice(text: str, units: int) -> None:
    assert utf16_len(text) == units


def test_utf16_slice_reads_an_entity_after_two_emoji() -> None:
    text = "🔥🔥 @akim_astana нет отопления третий день"
    # Telegram's offset is 5 (two emoji × 2 units + a space), while the Python index is 3.
    assert utf16_slice(text, 5, 12) == "@akim_astana"
    assert text[5 : 5 + 12] != "@akim_astana"


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (0, 0, ""),
        (0, 2, "🔥"),
        (2, 3, " ab"),
        (4, 100, "b"),  # past the end: clamped
        (-3, 5, "🔥"),  # before the start: clamped
        (100, 5, ""),
        (3, -2, ""),
    ],
)
def test_utf16_slice_clamps_out_of_range(offset: int, length: int, expected: str) -> None:
    assert utf16_slice("🔥 ab", offset, length) == expected


def test_utf16_slice_inside_a_surrogate_pair_matches_the_utf16_units() -> None:
    # Telegram never sends such offsets, but a forged update must not crash the bot.
    assert utf16_slice("🔥x", 1, 2) == "\udd25x"  # 🔥 is U+1F525: D83D DD25


@pytest.mark.parametrize(
    ("offset", "length", "span"),
    [
        (0, 2, (0, 1)),
        (5, 12, (3, 15)),
        (1, 1, (0, 1)),  # half an emoji rounds outwards to the whole emoji
        (2, 1, (1, 2)),
        (-10, 12, (0, 1)),
        (0, 10**9, (0, 15)),
        (10**9, 5, (15, 15)),
    ],
)
def test_utf16_span_maps_to_python_indices(offset: int, length: int, span: tuple[int, int]) -> None:
    assert utf16_span("🔥🔥 @akim_astana", offset, length) == span


@given(chat_text, st.integers(-20, 700), st.integers(-20, 700))
def test_utf16_slice_equals_the_utf16_encoded_slice(text: str, offset: int, length: int) -> None:
    assert utf16_slice(text, offset, length) == utf16_reference_slice(text, offset, length)


@given(chat_text)
def test_utf16_len_equals_the_encoded_length(text: str) -> None:
    assert utf16_len(text) == len(text.encode("utf-16-le")) // 2


@given(chat_text, st.data())
def test_utf16_span_covers_whole_characters_of_the_slice(text: str, data: st.DataObject) -> None:
    # Offsets on character boundaries, as Telegram sends them: span and slice agree exactly.
    boundaries = [utf16_len(text[:index]) for index in range(len(text) + 1)]
    start = data.draw(st.sampled_from(boundaries))
    end = data.draw(st.sampled_from([b for b in boundaries if b >= start]))
    python_start, python_end = utf16_span(text, start, end - start)
    assert text[python_start:python_end] == utf16_slice(text, start, end - start)


# --- truncate -----------------------------------------------------------------------------------------------


def test_truncate_keeps_short_text() -> None:
    assert truncate("нет воды", 8) == "нет воды"
    assert truncate("", 0) == ""


def test_truncate_prefers_a_word_boundary() -> None:
    text = "третий день нет отопления в доме на Кенесары 17"
    result = truncate(text, 30)
    assert result == "третий день нет отопления в…"
    assert utf16_len(result) <= 30


def test_truncate_cuts_a_long_word_when_there_is_no_boundary_near() -> None:
    url = "https://example.kz/" + "x" * 100
    result = truncate(url, 40)
    assert result == url[:39] + "…"


def test_truncate_never_splits_a_surrogate_pair() -> None:
    assert truncate("🔥" * 10, 6) == "🔥🔥…"  # 5 units: a third emoji would need 7
    assert truncate("🔥" * 10, 7) == "🔥🔥🔥…"


def test_truncate_with_a_custom_or_oversized_ellipsis() -> None:
    assert truncate("abcdef ghij", 8, ellipsis="...") == "abcde..."
    assert truncate("abcdef", 2, ellipsis="...") == ".."
    assert truncate("abcdef", 0) == ""


def test_truncate_rejects_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="negative"):
        truncate("abc", -1)


@given(chat_text, st.integers(0, 120), st.sampled_from(["…", "...", "", "🔚"]))
def test_truncate_stays_within_the_limit(text: str, limit: int, ellipsis: str) -> None:
    result = truncate(text, limit, ellipsis)
    assert utf16_len(result) <= limit
    if utf16_len(text) <= limit:
        assert result == text
    elif utf16_len(ellipsis) <= limit:
        assert result.endswith(ellipsis)
        assert text.startswith(result[: len(result) - len(ellipsis)])


# --- split_message ------------------------------------------------------------------------------------------


def assert_rejoins(text: str, chunks: list[str]) -> None:
    """The chunks appear in order in `text`, and only whitespace lies between and after them."""
    cursor = 0
    for chunk in chunks:
        position = cursor
        while not text.startswith(chunk, position):
            assert position < len(text) and text[position].isspace(), (chunk, text[cursor:position])
            position += 1
        cursor = position + len(chunk)
    assert text[cursor:].strip() == ""


def test_split_message_keeps_short_text_whole() -> None:
    assert split_message("привет") == ["привет"]
    assert split_message("") == []


def test_split_message_prefers_paragraphs() -> None:
    first = "Первый абзац. " * 20
    second = "Второй абзац. " * 20
    text = first.strip() + "\n\n" + second.strip()
    assert split_message(text, limit=400) == [first.strip(), second.strip()]


def test_split_message_falls_back_to_lines_then_words() -> None:
    lines = "\n".join(f"строка номер {n}" for n in range(40))
    chunks = split_message(lines, limit=100)
    assert all(utf16_len(chunk) <= 100 for chunk in chunks)
    assert all(chunk.startswith("строка") and chunk.split("\n")[-1].split()[-1].isdigit() for chunk in chunks)
    words = " ".join(["слово"] * 100)
    assert all(set(chunk.split()) == {"слово"} for chunk in split_message(words, limit=64))
    assert_rejoins(words, split_message(words, limit=64))


def test_split_message_cuts_a_word_longer_than_the_limit() -> None:
    assert split_message("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_message_never_splits_an_emoji() -> None:
    chunks = split_message("🔥" * 9, limit=5)
    assert chunks == ["🔥🔥", "🔥🔥", "🔥🔥", "🔥🔥", "🔥"]


def test_split_message_default_limit_is_telegrams() -> None:
    text = ("Жалоба на отопление. " * 100 + "\n\n") * 5
    chunks = split_message(text)
    assert len(chunks) > 1
    assert all(utf16_len(chunk) <= 4096 for chunk in chunks)
    assert_rejoins(text, chunks)


def test_split_message_rejects_a_limit_below_one_emoji() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_message("abc", limit=1)


@given(chat_text, st.integers(2, 80))
def test_split_message_chunks_fit_and_rejoin(text: str, limit: int) -> None:
    chunks = split_message(text, limit)
    assert all(0 < utf16_len(chunk) <= limit for chunk in chunks)
    assert_rejoins(text, chunks)
    assert "".join(text.split()) == "".join("".join(chunks).split())


# --- escape_html --------------------------------------------------------------------------------------------


def test_escape_html_escapes_the_three_characters_telegram_needs() -> None:
    assert escape_html("<b>Tom & Jerry</b>") == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"
    assert escape_html("&amp;") == "&amp;amp;"  # a literal entity stays literal
    assert escape_html('"кавычки" 🔥') == '"кавычки" 🔥'


def test_escape_html_quotes_for_attribute_values() -> None:
    assert escape_html('a"b<', quote=True) == "a&quot;b&lt;"


@pytest.mark.parametrize(
    ("text", "signed", "expected"),
    [
        ("42", False, 42),
        ("007", False, 7),
        ("-5", True, -5),
        ("-5", False, None),
        ("--5", True, None),
        ("-", True, None),
        ("", False, None),
        ("²", False, None),  # isdigit() says yes, int() says no
        ("١٢", False, None),  # Arabic-Indic digits: a number, but not one a Telegram id is written in
        (" 1", False, None),
        ("9223372036854775807", False, 2**63 - 1),
        ("9223372036854775808", False, None),
        ("-9223372036854775808", True, -(2**63)),
        ("9" * 30, False, None),
    ],
)
def test_parse_number_accepts_only_ascii_integers_within_64_bits(
    text: str, signed: bool, expected: int | None
) -> None:
    assert parse_number(text, signed=signed) == expected
