"""Finding the open complaint a new one repeats: same department and category, same district, recent,
and similar text (character trigrams survive typos and Russian/Kazakh suffixes)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bot.config import DuplicatesConfig

_NOISE = re.compile(r"@\w+|https?://\S+|[^\w\s]", re.UNICODE)
_NUMBER = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the normalised text (tags, links and punctuation removed)."""
    cleaned = _SPACES.sub(" ", _NOISE.sub(" ", text.lower().replace("ё", "е"))).strip()
    padded = f" {cleaned} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _numbers(text: str) -> frozenset[str]:
    return frozenset(_NUMBER.findall(_NOISE.sub(" ", text)))


def _score(
    first: tuple[frozenset[str], frozenset[str]], second: tuple[frozenset[str], frozenset[str]]
) -> float:
    """Similarity of two texts given as (numbers, trigrams)."""
    (first_numbers, a), (second_numbers, b) = first, second
    if first_numbers and second_numbers and not first_numbers & second_numbers:
        return 0.0  # "дом 5" and "дом 7" are different buildings, however alike the words
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of the two texts' trigram sets (0..1); 0 when they name different numbers."""
    return _score((_numbers(first), trigrams(first)), (_numbers(second), trigrams(second)))


class Comparable(Protocol):
    """What the check reads of a complaint: an ORM row or a column-only candidate."""

    @property
    def id(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def district(self) -> str | None: ...
    @property
    def duplicate_of_id(self) -> int | None: ...


C = TypeVar("C", bound=Comparable)


class DuplicateFinder:
    """Picks the best original among candidate complaints, or none."""

    def __init__(self, config: DuplicatesConfig) -> None:
        self._config = config

    def window_start(self, now: datetime) -> datetime:
        """How far back an original may be."""
        return now - timedelta(hours=self._config.window_hours)

    def best(self, complaint: Comparable, candidates: Sequence[C]) -> C | None:
        """The most similar candidate above the threshold in the same district (both known, or both not)."""
        # without a district the texts must agree more before two reports count as one problem
        similar = self._config.similarity
        threshold = similar if complaint.district else min(1.0, similar + 0.15)
        mine = (_numbers(complaint.text), trigrams(complaint.text))  # once, not once per candidate
        best: tuple[float, C] | None = None
        for candidate in candidates:
            if candidate.id == complaint.id or candidate.duplicate_of_id is not None:
                continue
            if candidate.district != complaint.district:
                continue
            score = _score(mine, (_numbers(candidate.text), trigrams(candidate.text)))
            if score >= threshold and (best is None or score > best[0]):
                best = (score, candidate)
        return best[1] if best else None
