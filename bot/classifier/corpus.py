"""The labelled corpus: loading, hashing and the deterministic held-out split."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CORPUS_DIR",
    "HELD_OUT_SHARE",
    "Example",
    "corpus_hash",
    "load_corpus",
    "split_corpus",
    "text_hash",
]

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
HELD_OUT_SHARE = 0.2
KINDS = ("complaint", "question", "suggestion", "gratitude", "other")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message."""

    text: str
    complaint: bool
    kind: str
    category: str
    urgent: bool
    language: str
    weight: float = 1.0  # training weight; staff corrections count more than corpus rows

    @property
    def stratum(self) -> str:
        """What the split balances: a complaint's category, or a non-complaint's kind."""
        return f"complaint:{self.category}" if self.complaint else f"{self.kind}"


def text_hash(text: str) -> float:
    """A stable number in [0, 1) for a text (its SHA-256), independent of every other row."""
    digest = hashlib.sha256(text.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _example(data: object) -> Example:
    if not isinstance(data, dict):
        raise ValueError("a row must be a JSON object")
    text, complaint, kind = data.get("text"), data.get("complaint"), data.get("kind")
    category, urgent, language = data.get("category"), data.get("urgent"), data.get("language")
    if not isinstance(text, str) or not isinstance(complaint, bool) or not isinstance(urgent, bool):
        raise ValueError("text must be a string, complaint and urgent booleans")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(category, str) or not isinstance(language, str):
        raise ValueError("category and language must be strings")
    return Example(text, complaint, kind, category, urgent and complaint, language)


def load_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    """Every row of the *.jsonl files in `directory`, in file order; exact duplicate texts kept once."""
    examples: list[Example] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    example = _example(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"{path.name}:{number}: {exc}") from None
                key = example.text.strip()
                if key in seen:
                    continue
                seen.add(key)
                examples.append(example)
    return examples


def corpus_hash(examples: Iterable[Example]) -> str:
    """SHA-256 of the labelled rows (order-independent), for the model cache key."""
    lines = sorted(
        json.dumps([e.text, e.complaint, e.kind, e.category, e.urgent, e.language], ensure_ascii=False)
        for e in examples
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def split_corpus(
    examples: Sequence[Example], share: float = HELD_OUT_SHARE
) -> tuple[list[Example], list[Example]]:
    """(train, held_out): in each stratum, the `share` of rows with the lowest text hash is held out.

    Ranking by each text's own hash keeps the split deterministic and stratified: adding rows to one
    stratum never moves a row of another, and moves at most a row or two of its own across the line.
    """
    strata: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        strata[example.stratum].append(example)
    held: set[int] = set()
    for rows in strata.values():
        ranked = sorted(rows, key=lambda e: (text_hash(e.text), e.text))
        for example in ranked[: round(len(rows) * share)]:
            held.add(id(example))
    train = [e for e in examples if id(e) not in held]
    held_out = [e for e in examples if id(e) in held]
    return train, held_out
