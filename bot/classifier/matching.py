"""Word-start matching that tolerates Russian and Kazakh inflection, for keywords, concepts and districts.

A stem matches a token that starts with it when the rest of the token is empty, when the stem is long
(five letters or more: a plain prefix match, "светофор" still wins over "свет" because the longest stem
is tried first), or when the rest is a chain of known endings: "иттер" and "итке" match the stem "ит",
"итог" and "итак" do not; "газа" and "газовый" match "газ", "газон" does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from bot.classifier.normalize import fold_token, is_cyrillic, normalize, script
from bot.classifier.wordlists import word_list
from bot.core.text import KAZAKH_LETTER

__all__ = ["FREE_PREFIX", "PhraseMatcher", "StemIndex", "is_ending_chain", "stem_word"]

T = TypeVar("T")

# Stems at least this long match any word they start.
FREE_PREFIX = 5

_MAX_CHAIN = 3
_MIN_STEM = 3


@dataclass(frozen=True, slots=True)
class _Endings:
    """The ending lists, read once from the word-list files on first use (not at import)."""

    cyrillic: frozenset[str]
    latin: frozenset[str]  # the Cyrillic ones folded to Latin, and the English ones
    longest: int
    strip: tuple[str, ...]  # Russian endings cut off a keyword to get its stem, longest first


@lru_cache(maxsize=1)
def _endings() -> _Endings:
    cyrillic = word_list("endings_russian") | word_list("endings_kazakh")
    latin = frozenset(
        [fold_token(e) for e in cyrillic] + [normalize(e) for e in word_list("endings_english")]
    ) - {""}
    # "батареи" → "батаре", "Сарыарка" → "сарыарк"; a Kazakh word is already a bare stem
    strip = tuple(sorted(word_list("stem_strip_russian"), key=len, reverse=True))
    return _Endings(cyrillic, latin, max(len(e) for e in cyrillic | latin), strip)


@lru_cache(maxsize=65536)
def is_ending_chain(rest: str, latin: bool) -> bool:
    """True when `rest` is a chain of at most three known endings (Cyrillic or folded Latin)."""
    known = _endings()
    endings, longest = (known.latin if latin else known.cyrillic), known.longest

    def chain(start: int, depth: int) -> bool:
        if start == len(rest):
            return True
        if depth == _MAX_CHAIN:
            return False
        for end in range(min(len(rest), start + longest), start, -1):
            if rest[start:end] in endings and chain(end, depth + 1):
                return True
        return False

    return chain(0, 0)


def stem_word(word: str) -> str:
    """A normalised word without its Russian ending, so inflected forms match it."""
    if KAZAKH_LETTER.search(word) or not is_cyrillic(word):
        return word
    for ending in _endings().strip:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


def _matches(stem: str, token: str, latin: bool) -> bool:
    if not token.startswith(stem):
        return False
    # Kazakh writes endings on abbreviations after a hyphen or apostrophe: ЦОН-да, КСК-ға, LRT'ge
    rest = token[len(stem) :].lstrip("-'’")
    return not rest or len(stem) >= FREE_PREFIX or is_ending_chain(rest, latin)


_SEEN_LIMIT = 50_000  # tokens remembered per index


class StemIndex(Generic[T]):
    """Stems (in one script) to payloads; `lookup` finds the payloads of the longest stem a token takes."""

    def __init__(self, entries: Iterable[tuple[str, T]], *, latin: bool) -> None:
        self._latin = latin
        table: dict[str, list[T]] = {}
        for stem, payload in entries:
            if stem:
                table.setdefault(stem, []).append(payload)
        self._table = {stem: tuple(payloads) for stem, payloads in table.items()}
        self._longest = max((len(s) for s in self._table), default=0)
        self._shortest = min((len(s) for s in self._table), default=1)
        # words repeat from message to message (Zipf): a token's answer is kept, up to a bound
        self._seen: dict[str, tuple[T, ...]] = {}

    def __len__(self) -> int:
        return len(self._table)

    def lookup(self, token: str) -> tuple[T, ...]:
        """Payloads of the longest stem matching `token` (empty when none)."""
        seen = self._seen.get(token)
        if seen is not None:
            return seen
        found: tuple[T, ...] = ()
        table = self._table
        for length in range(min(len(token), self._longest), self._shortest - 1, -1):
            payloads = table.get(token[:length])
            if payloads is not None and _matches(token[:length], token, self._latin):
                found = payloads
                break
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()  # a flood of new words costs a refill, never unbounded memory
        self._seen[token] = found
        return found


@dataclass(frozen=True, slots=True)
class _Phrase(Generic[T]):
    cyrillic: tuple[str, ...]  # stems as written (Cyrillic phrases), else empty
    latin: tuple[str, ...]  # stems in the folded Latin form
    payload: T
    cross_script: bool  # a Cyrillic phrase may also match Latin-script Kazakh/Russian


class PhraseMatcher(Generic[T]):
    """Multi-word phrases matched word by word with `StemIndex` rules, in Cyrillic and Latin script."""

    def __init__(self, phrases: Iterable[tuple[str, T, bool]]) -> None:
        """`phrases`: (text, payload, cross_script); cross_script lets a Cyrillic phrase match Latin."""
        items: list[_Phrase[T]] = []
        for text, payload, cross_script in phrases:
            words = [stem_word(w) for w in normalize(text).split() if w not in "?!"]
            if not words:
                continue
            if any(is_cyrillic(w) for w in words):
                latin = tuple(fold_token(w) for w in words) if cross_script else ()
                items.append(_Phrase(tuple(words), latin, payload, cross_script))
            else:
                items.append(_Phrase((), tuple(words), payload, True))
        self._phrases = items
        self._cyrillic: StemIndex[int] = StemIndex(
            ((p.cyrillic[0], i) for i, p in enumerate(items) if p.cyrillic), latin=False
        )
        self._latin_only: StemIndex[int] = StemIndex(
            ((p.latin[0], i) for i, p in enumerate(items) if p.latin and not p.cyrillic), latin=True
        )
        self._latin_cross: StemIndex[int] = StemIndex(
            ((p.latin[0], i) for i, p in enumerate(items) if p.latin and p.cyrillic), latin=True
        )

    def find(self, words: Sequence[str], *, latin_cross: bool = True) -> list[T]:
        """Payloads of the phrases found in normalised `words`, in order of appearance, without repeats.

        latin_cross=False keeps Cyrillic phrases away from Latin words (an English "it" is not "ит").
        """
        found: list[T] = []
        for position, word in enumerate(words):
            kind = script(word)
            if kind == "cyrillic":
                self._extend(found, self._cyrillic.lookup(word), words, position, latin=False)
            elif kind == "latin":
                self._extend(found, self._latin_only.lookup(word), words, position, latin=True)
                if latin_cross:
                    self._extend(found, self._latin_cross.lookup(word), words, position, latin=True)
        return found

    def _extend(
        self, found: list[T], candidates: tuple[int, ...], words: Sequence[str], position: int, *, latin: bool
    ) -> None:
        for index in candidates:
            phrase = self._phrases[index]
            stems = phrase.latin if latin else phrase.cyrillic
            if len(stems) > 1 and not self._rest_matches(stems, words, position, latin=latin):
                continue
            if phrase.payload not in found:
                found.append(phrase.payload)

    @staticmethod
    def _rest_matches(stems: Sequence[str], words: Sequence[str], position: int, *, latin: bool) -> bool:
        if position + len(stems) > len(words):
            return False
        for offset in range(1, len(stems)):
            word = words[position + offset]
            if latin:
                word = fold_token(word)
            if not _matches(stems[offset], word, latin):
                return False
        return True
