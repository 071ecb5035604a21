"""The config's category keywords as strong signals, so a city can fix routing without retraining.

A keyword hit adds up to `KEYWORD_BOOST` to its category's probability before the scores are
renormalised. At full strength a keyword category outranks every category without a hit (a
probability is at most 1); between several categories with hits the model decides.

Full strength goes to keywords the labelled corpus knows nothing against: a keyword a city has just
added, or one that mostly appears in complaints of its own category. A keyword that the corpus shows
to be common across categories ("двор": in 63 training complaints, 11 of them about yards) is scaled
down by its observed precision, smoothed: strength = ((right + α) / (right + wrong + α)) ** γ. Without
that, the example config's generic words would route most yard, entrance and street complaints wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.classifier.matching import PhraseMatcher
from bot.config import CategoryConfig

__all__ = ["KEYWORD_BOOST", "KeywordMatcher", "LabelledWords"]

KEYWORD_BOOST = 1.0
# Smoothing of the observed precision (chosen by cross-validation on the training split): a keyword
# needs several wrong hits before it loses much strength.
PRIOR_HITS = 3.0
SHARPNESS = 3.0


@dataclass(frozen=True, slots=True)
class LabelledWords:
    """A labelled complaint, as normalised words, for measuring the keywords' precision."""

    words: Sequence[str]
    latin_is_kazakh: bool
    category: str


class KeywordMatcher:
    """Finds which categories' keywords a message contains, and how strongly; read-only once built."""

    def __init__(self, categories: Sequence[CategoryConfig], evidence: Iterable[LabelledWords] = ()) -> None:
        phrases: list[tuple[str, tuple[str, str], bool]] = []
        for category in categories:
            for language, words in category.keywords.items():
                # Kazakh keywords also match Kazakh written in Latin script; Russian and English ones
                # keep to their script (a Latin "it" is English, not the Kazakh "ит" for dog)
                phrases.extend(
                    (word, (category.id, word.strip().lower()), language == "kk") for word in words
                )
        self._matcher = PhraseMatcher(phrases)
        hits: dict[tuple[str, str], list[int]] = {}
        for row in evidence:
            for key in self._matcher.find(row.words, latin_cross=row.latin_is_kazakh):
                counts = hits.setdefault(key, [0, 0])
                counts[0 if row.category == key[0] else 1] += 1
        self._strength = {
            key: ((right + PRIOR_HITS) / (right + wrong + PRIOR_HITS)) ** SHARPNESS
            for key, (right, wrong) in hits.items()
        }

    def boosts(self, words: Sequence[str], *, latin_is_kazakh: bool) -> dict[str, float]:
        """Category id → boost for the keywords in the normalised `words` (strongest keyword per category)."""
        out: dict[str, float] = {}
        for key in self._matcher.find(words, latin_cross=latin_is_kazakh):
            boost = KEYWORD_BOOST * self._strength.get(key, 1.0)
            if boost > out.get(key[0], 0.0):
                out[key[0]] = boost
        return out

    def categories(self, words: Sequence[str], *, latin_is_kazakh: bool) -> list[str]:
        """Ids of the categories with a keyword in the normalised `words`, in order of appearance."""
        return list(dict.fromkeys(cid for cid, _ in self._matcher.find(words, latin_cross=latin_is_kazakh)))
