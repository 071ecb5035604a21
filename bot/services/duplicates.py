"""Finding the open complaint a new one repeats: same department and category, same district, recent,
and similar text (character trigrams survive typos and Russian/Kazakh suffixes)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.config import DuplicatesConfig
from storage.models import ComplaintRow

_NOISE = re.compile(r"@\w+|https?://\S+|[^\w\s]", re.UNICODE)
_NUMBER = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the normalised text (tags, links and punctuation removed)."""
    cleaned = _SPACES.sub(" ", _NOISE.sub(" ", text.lower().replace("ё", "е"))).strip()
    padded = f" {cleaned} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of the two texts' trigram sets (0..1); 0 when they name different numbers."""
    first_numbers = set(_NUMBER.findall(_NOISE.sub(" ", first)))
    second_numbers = set(_NUMBER.findall(_NOISE.sub(" ", second)))
    if first_numbers and second_numbers and not first_numbers & second_numbers:
        return 0.0  # "дом 5" and "дом 7" are different buildings, however alike the words
    a, b = trigrams(first), trigrams(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class DuplicateFinder:
    """Picks the best original among candidate complaints, or none."""

    def __init__(self, config: DuplicatesConfig) -> None:
        self._config = config

    def window_start(self, now: datetime) -> datetime:
        """How far back an original may be."""
        return now - timedelta(hours=self._config.window_hours)

    def best(self, complaint: ComplaintRow, candidates: Sequence[ComplaintRow]) -> ComplaintRow | None:
        """The most similar candidate above the threshold in the same district (both known, or both not)."""
        best: tuple[float, ComplaintRow] | None = None
        for candidate in candidates:
            if candidate.id == complaint.id or candidate.duplicate_of_id is not None:
                continue
            if candidate.district != complaint.district:
                continue
            score = similarity(complaint.text, candidate.text)
            # without a district the texts must agree more before two reports count as one problem
            threshold = (
                self._config.similarity if complaint.district else min(1.0, self._config.similarity + 0.15)
            )
            if score >= threshold and (best is None or score > best[0]):
                best = (score, candidate)
        return best[1] if best else None
