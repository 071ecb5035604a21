"""Characters in names and aliases that make a match silently fail: invisible ones (zero-width and
no-break spaces, soft hyphens, a BOM) and letters of another script inside a word (a Latin `a` in a
Cyrillic word looks the same on screen but never matches what residents type)."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+")  # letters only: "ЖКХ-Service" is two words, each in one script


def describe(character: str) -> str:
    """`U+00A0 NO-BREAK SPACE`: a character's code point and Unicode name."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X} {name}".rstrip()


def is_invisible(character: str) -> bool:
    """True for characters that do not show (or show as a plain space) but differ from what people type."""
    if character == " ":
        return False
    category = unicodedata.category(character)
    # Cf: zero-width space/joiners, BOM, soft hyphen, direction marks; Zs: no-break and other spaces
    return category in {"Cf", "Cc", "Co", "Cn", "Zs", "Zl", "Zp"}


def invisible_characters(text: str) -> list[str]:
    """Each distinct invisible character in `text`, described, in order of appearance."""
    found = dict.fromkeys(c for c in text if is_invisible(c))
    return [describe(c) for c in found]


def strip_invisible(text: str) -> str:
    """`text` without its invisible characters."""
    return "".join(c for c in text if not is_invisible(c))


def _script(character: str) -> str | None:
    name = unicodedata.name(character, "")
    for script in ("LATIN", "CYRILLIC"):
        if name.startswith(script):
            return script.capitalize()
    return None


def mixed_scripts(text: str) -> list[str]:
    """For each word mixing Latin and Cyrillic letters, which letters are the odd ones out."""
    problems = []
    for match in _WORD.finditer(text):
        word = match.group()
        scripts = [_script(c) for c in word]
        counts = {s: scripts.count(s) for s in ("Latin", "Cyrillic")}
        if not all(counts.values()):
            continue
        # the script with fewer letters is the intruder; a tie names the Latin ones
        odd = "Latin" if counts["Latin"] <= counts["Cyrillic"] else "Cyrillic"
        usual = "Cyrillic" if odd == "Latin" else "Latin"
        odd_letters = dict.fromkeys(c for c, s in zip(word, scripts, strict=True) if s == odd)
        letters = ", ".join(describe(c) for c in odd_letters)
        problems.append(f"{word!r} mixes scripts: {odd} {letters} among {usual} letters")
    return problems
