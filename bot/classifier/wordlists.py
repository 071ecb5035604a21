"""The classifier's word lists, kept as data files a linguist can edit (`data/words/<name>.txt`).

One entry per line, lowercase; "#" starts a comment. The language lists vote for a language
(bot/classifier/language.py); the ending lists tell the stem matcher what may follow a stem
(bot/classifier/matching.py). The model's cache key includes a hash of them all, so editing a list
retrains the model.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["WORDS_DIR", "WORD_LISTS", "word_list", "word_lists_digest"]

WORDS_DIR = Path(__file__).resolve().parent / "data" / "words"
WORD_LISTS = (
    # words of one language that vote for it
    "kazakh_cyrillic",
    "kazakh_latin",
    "english",
    "russian",
    "latin_ambiguous",
    # endings that may follow a stem, and the Russian endings cut off to find one
    "endings_russian",
    "endings_kazakh",
    "endings_english",
    "stem_strip_russian",
)


@functools.cache
def word_list(name: str) -> frozenset[str]:
    """The entries of `data/words/<name>.txt` (see WORD_LISTS)."""
    lines = (WORDS_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w for w in (line.split("#", 1)[0].strip() for line in lines) if w)


def word_lists_digest() -> str:
    """A hash of every word list: the model cache key changes when a list is edited."""
    digest = hashlib.sha256()
    for name in WORD_LISTS:
        digest.update(name.encode() + b"\0" + "\n".join(sorted(word_list(name))).encode() + b"\0")
    return digest.hexdigest()
