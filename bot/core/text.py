"""Telegram text helpers: UTF-16 offsets, truncation, splitting long messages, HTML escaping.

Telegram counts message lengths and entity offsets in UTF-16 code units, while a Python string indexes
code points: a character outside the Basic Multilingual Plane (most emoji) is one Python character but two
UTF-16 units. Everything here measures in UTF-16 units; truncating and splitting never cut a character in
half. No Telegram library is imported: handlers, the digest and tests share these helpers.
"""

from __future__ import annotations

import re
from typing import TypeGuard

__all__ = [
    "escape_html",
    "is_int64",
    "parse_number",
    "split_message",
    "truncate",
    "utf16_len",
    "utf16_slice",
    "utf16_span",
]

_CODEC = "utf-16-le"
# Lone surrogates can reach us in a Python str (e.g. from a bad decode); "surrogatepass" gives them the one
# UTF-16 unit they would occupy instead of raising in the middle of message handling.
_ERRORS = "surrogatepass"
# A truncated text prefers to end at a word boundary, but only if that loses at most a third of the room
# (and at most _WORD_WINDOW_MAX units): a single long URL should not shrink to almost nothing.
_WORD_WINDOW_SHARE = 3
_WORD_WINDOW_MAX = 100


# PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded; each becomes U+FFFD, which is
# also one UTF-16 unit, so entity offsets stay valid.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")

# the nine letters Kazakh Cyrillic adds to Russian's: one of them in a word makes it Kazakh (lowercase text)
KAZAKH_LETTER = re.compile("[әғқңөұүһі]")


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, as Telegram counts it."""
    return len(text.encode(_CODEC, _ERRORS)) // 2


def _is_bmp(text: str) -> bool:
    # Without astral characters one Python character is exactly one UTF-16 unit, so indices agree.
    return utf16_len(text) == len(text)


def _fit(text: str, start: int, units: int) -> int:
    """The largest index `end` such that text[start:end] takes at most `units` UTF-16 units."""
    end = min(len(text), start + max(units, 0))
    while True:
        excess = utf16_len(text[start:end]) - units
        if excess <= 0:
            return end
        # Each character is 1 or 2 units, so dropping ceil(excess / 2) characters never drops too many.
        end -= (excess + 1) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The text in the UTF-16 range [offset, offset + length), e.g. an entity's; clamped to the text."""
    start = max(offset, 0)
    end = max(offset + length, start)
    if _is_bmp(text):
        return text[start:end]
    data = text.encode(_CODEC, _ERRORS)
    return data[2 * start : 2 * end].decode(_CODEC, _ERRORS)


def utf16_span(text: str, offset: int, length: int) -> tuple[int, int]:
    """Python indices (start, end) of the characters overlapping the UTF-16 range, clamped to the text."""
    start_units = max(offset, 0)
    end_units = max(offset + length, start_units)
    if _is_bmp(text):
        return min(start_units, len(text)), min(end_units, len(text))
    # An offset inside a surrogate pair rounds outwards, so the span always holds whole characters.
    start = _fit(text, 0, start_units)
    end = _fit(text, 0, end_units)
    if end < len(text) and utf16_len(text[:end]) < end_units:
        end += 1
    return start, max(start, end)


def _word_cut(text: str, end: int, room: int) -> int:
    """Move a cut at `end` back to a preceding whitespace near it, if there is one."""
    if end >= len(text) or text[end].isspace():
        return end  # already at a word boundary
    window = min(room // _WORD_WINDOW_SHARE, _WORD_WINDOW_MAX)
    for index in range(end - 1, max(end - window, 0), -1):
        if text[index].isspace():
            return index
    return end


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut `text` to at most `limit` UTF-16 units including `ellipsis`, preferably at a word boundary."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(ellipsis)
    if room <= 0:
        return ellipsis[: _fit(ellipsis, 0, limit)]
    end = _word_cut(text, _fit(text, 0, room), room)
    return text[:end].rstrip() + ellipsis


def _split_point(text: str, start: int, end: int) -> int:
    """Where to end the chunk text[start:end]: a paragraph, line or word break, else `end` itself."""
    # A paragraph or line break is worth it only in the second half of the room; a word break anywhere.
    earliest = start + max(1, (end - start) // 2)
    for separator in ("\n\n", "\n"):
        # The separator itself is dropped, so it may begin right at `end` (after the last fitting char).
        point = text.rfind(separator, earliest, end + len(separator))
        if point != -1:
            return point
    for index in range(min(end, len(text) - 1), start, -1):
        if text[index].isspace():
            return index
    return end


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split `text` into chunks of at most `limit` UTF-16 units at paragraph, line or word breaks."""
    if limit < 2:
        raise ValueError("limit must be at least 2 UTF-16 units, the size of one emoji")
    if not text:
        return []
    if utf16_len(text) <= limit:
        return [text]
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = _fit(text, start, limit)
        if end >= len(text):
            chunks.append(text[start:])
            break
        point = _split_point(text, start, end)
        chunk = text[start:point].rstrip()
        if chunk:  # a run of whitespace longer than the limit yields nothing worth sending
            chunks.append(chunk)
        start = point
        while start < len(text) and text[start].isspace():
            start += 1
    return chunks


def escape_html(text: str, *, quote: bool = False) -> str:
    """Escape &, < and > for Telegram's HTML parse mode (and " when `quote`, for attribute values)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace('"', "&quot;") if quote else escaped


def is_int64(value: object) -> TypeGuard[int]:
    """An int (not a bool) that fits a 64-bit database column, as every Telegram id does."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def parse_number(text: str, *, signed: bool = False) -> int | None:
    """An integer typed by a person or carried in callback data: ASCII digits (and a leading minus when
    `signed`) that fit in 64 bits, else None. str.isdigit() alone also accepts "²" and other digits
    int() rejects, and a 30-digit number would fail in the database."""
    body = text[1:] if signed and text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit() or len(body) > 19:
        return None
    number = int(text)
    return number if is_int64(number) else None


def storable_text(text: str) -> str:
    """`text` as every database stores it: NUL and lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub("\N{REPLACEMENT CHARACTER}", text) if _UNSTORABLE.search(text) else text
