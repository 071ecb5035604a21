"""Base forms of words: what "подъездах", "подъезде" and "подъезд" share, in three languages.

- Russian: pymorphy3 with its OpenCorpora dictionary (pymorphy3-dicts-ru, shipped in the wheel): the
  dictionary's normal form, or pymorphy3's guess for a word it does not know ("доводчика" → "доводчик");
- English: the Snowball (Porter 2) stemmer (snowballstemmer);
- Kazakh: no maintained analyser on PyPI serves here (the one there is GPL and ships no importable
  module), so inflectional suffixes are stripped by rule, longest first, keeping a stem of at least
  three letters ("көліктерінің" → "көлік"); consonant alternation ("жарығы" of "жарық") is left to
  the character n-grams.

A word's base form is memoised: chat vocabulary repeats, so most words are analysed once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from bot.core.text import KAZAKH_LETTER

__all__ = ["WordForms", "kazakh_stem"]

WORD_CACHE_SIZE = 200_000

# Letters only Kazakh Cyrillic has: such a word is never Russian, whatever pymorphy3 would guess.
_CYRILLIC = re.compile("[а-яё]")
_LATIN = re.compile("[a-z]")

# Inflectional endings (case, plural, possessive, the commonest verb forms), Cyrillic. Stripped
# repeatedly, longest first, while a stem with a vowel and at least three letters remains.
_KAZAKH_ENDINGS = (
    # plural; possessive; genitive, accusative; dative; locative; ablative; instrumental; "-дағы"
    "лар лер дар дер тар тер "
    "ымыз іміз мыз міз ыңыз іңіз ңыз ңіз ымды імді ым ім м ың ің ң сы сі ы і "
    "ның нің дың дің тың тің ны ні ды ді ты ті н "
    "ға ге қа ке на не а е "
    "да де та те нда нде "
    "дан ден тан тен нан нен "
    "мен бен пен "
    "дағы дегі тағы тегі "
    # verbs: past, participles, converbs, negation, present, verbal noun, third-person imperative
    "дық дік тық тік ған ген қан кен ып іп п ап еп й "
    "майды мейді байды бейді пайды пейді ма ме ба бе па пе "
    "йды йді ады еді уда уде у сын сін "
    "маған меген баған беген паған пеген"
)
_KAZAKH_SUFFIXES = sorted(set(_KAZAKH_ENDINGS.split()), key=len, reverse=True)
_INNER_ENDINGS = "лар лер дар дер тар тер ымыз іміз мыз міз ыңыз іңіз ңыз ңіз ым ім ың ің сы сі ы і"
_INNER_SUFFIXES = sorted(set(_INNER_ENDINGS.split()), key=len, reverse=True)
# Endings that mark a word Russian does not know as Kazakh (Kazakh typed without its letters)
_KAZAKH_ENDING = re.compile(
    r"(?:ны|ні|ды|ді|ты|ті|ға|ге|қа|ке|да|де|та|те|нда|нде|дан|ден|тан|тен|нан|нен|мен|бен|пен|"
    r"лар|лер|дар|дер|тар|тер|мыз|міз|сыз|сіз|ымыз|ыңыз|сы|сі|дағы|дегі|майды|мейді)$"
)
_VOWELS = set("аәеёиоөуұүыіэюя")
_AFTER_POSSESSIVE = frozenset({"н", "нда", "нде", "нан", "нен"})
_POSSESSIVE_VOWELS = frozenset("ыі")


def kazakh_stem(word: str) -> str:
    """The stem of a Cyrillic Kazakh word: inflectional endings stripped by rule."""
    stem = word
    changed = True
    suffixes = _KAZAKH_SUFFIXES
    while changed:
        changed = False
        for suffix in suffixes:
            if stem.endswith(suffix):
                rest = stem[: -len(suffix)]
                if suffix in _AFTER_POSSESSIVE and rest[-1:] not in _POSSESSIVE_VOWELS:
                    continue  # "-нда" follows a possessive vowel ("үйінде"); "полигонда" is "-да"
                if len(rest) >= 3 and any(ch in _VOWELS for ch in rest):
                    stem = rest
                    changed = True
                    # once the last ending is gone, only possessive and plural endings come before it:
                    # "полигон" of "полигонда" keeps its "н"
                    suffixes = _INNER_SUFFIXES
                    break
    return stem


class WordForms:
    """The base form of a normalised word (Russian lemma, English stem, Kazakh stem); thread-safe."""

    def __init__(self) -> None:
        import pymorphy3  # type: ignore[import-untyped]
        import snowballstemmer  # type: ignore[import-untyped]

        self._morph: Any = pymorphy3.MorphAnalyzer()
        self._english: Any = snowballstemmer.stemmer("english")
        # snowballstemmer's stemmer objects keep state while they work: one caller at a time
        self._english_lock = threading.Lock()
        self.base: Callable[[str], str] = lru_cache(maxsize=WORD_CACHE_SIZE)(self._base)

    def _base(self, word: str) -> str:
        if _CYRILLIC.search(word):
            if KAZAKH_LETTER.search(word):
                return kazakh_stem(word)
            if not self._morph.word_is_known(word) and _KAZAKH_ENDING.search(word):
                # Kazakh written without its own letters ("компанияны", "полигонда"): pymorphy3 would
                # guess a Russian lemma from the ending
                return kazakh_stem(word)
            parses = self._morph.parse(word)
            return str(parses[0].normal_form) if parses else word
        if _LATIN.search(word) and word.isalpha():
            with self._english_lock:
                return str(self._english.stemWord(word))
        return word

    def bases(self, words: list[str]) -> list[str]:
        """Base forms of the words that have letters (numbers, emoji and ?! carry no base form)."""
        base = self.base
        return [base(w) for w in words if len(w) > 1 and not w.isdigit()]
