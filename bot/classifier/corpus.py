"""The labelled corpus: loading, hashing, the held-out split, the second held-out set, quality checks.

Training reads only `bot/corpus/*.jsonl`. The second held-out set in `bot/corpus/holdout/*.jsonl`
(formal letters and terse portal titles, written apart from the training rows) is loaded by
`load_holdout` alone and never enters training, the split or the corpus hash.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "CORPUS_DIR",
    "HELD_OUT_SHARE",
    "HOLDOUT_DIR",
    "NEAR_DUPLICATE_SIMILARITY",
    "REGISTERS",
    "Example",
    "NearDuplicate",
    "corpus_hash",
    "load_corpus",
    "load_holdout",
    "near_duplicates",
    "split_corpus",
    "spread",
    "text_hash",
    "trigram_similarity",
]

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
HOLDOUT_DIR = CORPUS_DIR / "holdout"
HELD_OUT_SHARE = 0.2
KINDS = ("complaint", "question", "suggestion", "gratitude", "other")
REGISTERS = ("chat", "formal", "terse")
NEAR_DUPLICATE_SIMILARITY = 0.8  # character-trigram Jaccard above this: one row says what the other does


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
    register: str = "chat"  # chat | formal (a letter to a portal) | terse (a portal title)

    @property
    def stratum(self) -> str:
        """What the split balances: a complaint's category, or a non-complaint's kind."""
        return f"complaint:{self.category}" if self.complaint else f"{self.kind}"


def text_hash(text: str) -> float:
    """A stable number in [0, 1) for a text (its SHA-256), independent of every other row."""
    digest = hashlib.sha256(text.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _example(data: object, *, register_required: bool = False) -> Example:
    if not isinstance(data, dict):
        raise ValueError("a row must be a JSON object")
    register = data.get("register", None if register_required else "chat")
    if not isinstance(register, str) or register not in REGISTERS:
        raise ValueError(f"register must be one of {', '.join(REGISTERS)}")
    text, complaint, kind = data.get("text"), data.get("complaint"), data.get("kind")
    category, urgent, language = data.get("category"), data.get("urgent"), data.get("language")
    if not isinstance(text, str) or not isinstance(complaint, bool) or not isinstance(urgent, bool):
        raise ValueError("text must be a string, complaint and urgent booleans")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(category, str) or not isinstance(language, str):
        raise ValueError("category and language must be strings")
    return Example(text, complaint, kind, category, urgent and complaint, language, register=register)


def _load(directory: Path, *, register_required: bool) -> list[Example]:
    examples: list[Example] = []
    seen: set[str] = set()
    # glob, not rglob: the second held-out set lives in a subfolder and must never be read as training
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    example = _example(json.loads(line), register_required=register_required)
                except ValueError as exc:
                    raise ValueError(f"{path.name}:{number}: {exc}") from None
                key = example.text.strip()
                if key in seen:
                    continue
                seen.add(key)
                examples.append(example)
    return examples


def load_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    """Every row of the *.jsonl files in `directory` (not its subfolders), in file order; duplicates once."""
    return _load(directory, register_required=False)


def load_holdout(directory: Path = HOLDOUT_DIR) -> list[Example]:
    """The second held-out set: every row of `directory`/*.jsonl (each with a register); never trained on."""
    if not directory.is_dir():
        return []
    return _load(directory, register_required=True)


def corpus_hash(examples: Iterable[Example]) -> str:
    """SHA-256 of the labelled rows (order-independent), for the model cache key."""
    # a chat row hashes as before the register existed, so old model caches stay valid
    lines = sorted(
        json.dumps(
            [e.text, e.complaint, e.kind, e.category, e.urgent, e.language]
            + ([] if e.register == "chat" else [e.register]),
            ensure_ascii=False,
        )
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


# --- quality: near-duplicates and spread ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    """Two rows whose character trigrams overlap above the threshold; `first` comes earlier in the input."""

    first: int
    second: int
    similarity: float


def _trigrams(text: str) -> set[str]:
    from bot.classifier.normalize import normalize

    # normalised text: case, punctuation and emphasis do not make a row new
    padded = f" {normalize(text)} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def trigram_similarity(a: str, b: str) -> float:
    """Jaccard similarity of two texts' character-trigram sets (on normalised text)."""
    first, second = _trigrams(a), _trigrams(b)
    union = first | second
    return len(first & second) / len(union) if union else 1.0


def near_duplicates(
    texts: Sequence[str],
    threshold: float = NEAR_DUPLICATE_SIMILARITY,
    *,
    depth: int = 4,
    depth_share: float = 0.1,
    block: int = 2048,
) -> list[NearDuplicate]:
    """Pairs of texts whose character-trigram Jaccard similarity exceeds `threshold`, by first index.

    Prefix filtering keeps it sparse (no pass over all n² pairs): with trigrams ordered rarest first,
    two sets sharing o trigrams share at least l of the first n - o + l trigrams of each (both hold
    the l rarest shared ones), and Jaccard >= t needs o >= ceil(t*n) for either set's size n. Each row
    keeps such a prefix, with l = max(depth, depth_share * ceil(t*n)) so long rows need many shared
    rare trigrams; one sparse product of the prefixes per block of rows counts them, and only pairs
    sharing enough are verified exactly.
    """
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

    vocabulary: dict[str, int] = {}
    indptr, indices = [0], []
    for text in texts:
        for gram in _trigrams(text):
            indices.append(vocabulary.setdefault(gram, len(vocabulary)))
        indptr.append(len(indices))
    n, width = len(texts), len(vocabulary)
    if n < 2 or not indices:
        return []
    columns = np.asarray(indices, dtype=np.int64)
    starts = np.asarray(indptr, dtype=np.int64)
    sizes = np.diff(starts)
    rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
    frequency = np.bincount(columns, minlength=width)
    # global order: rarest trigram first (ties by id), then each row's trigrams in that order
    rank = np.empty(width, dtype=np.int64)
    rank[np.lexsort((np.arange(width), frequency))] = np.arange(width)
    order = np.lexsort((rank[columns], rows))
    position = np.arange(len(columns), dtype=np.int64) - starts[rows[order]]
    needed = np.ceil(threshold * sizes - 1e-9).astype(np.int64)  # least overlap Jaccard >= t allows
    shared_least = np.minimum(np.maximum(depth, np.ceil(depth_share * needed)).astype(np.int64), needed)
    keep = order[position < (sizes - needed + shared_least)[rows[order]]]
    prefixes = csr_matrix((np.ones(len(keep), dtype=np.int32), (rows[keep], columns[keep])), shape=(n, width))
    transposed = prefixes.T.tocsr()
    found_first, found_second = [], []
    for low in range(0, n, block):
        counts = (prefixes[low : low + block] @ transposed).tocoo()
        first, second = counts.row.astype(np.int64) + low, counts.col.astype(np.int64)
        small = np.minimum(sizes[first], sizes[second])
        large = np.maximum(sizes[first], sizes[second])
        # each pair once; enough shared rare trigrams; and a size ratio above t (the smaller set
        # must hold more than t of the larger one)
        plausible = (
            (second > first)
            & (counts.data >= np.minimum(shared_least[first], shared_least[second]))
            & (small > threshold * large - 1e-9)
        )
        found_first.append(first[plausible])
        found_second.append(second[plausible])
    first, second = np.concatenate(found_first), np.concatenate(found_second)
    full = csr_matrix((np.ones(len(columns), dtype=np.int32), columns, starts), shape=(n, width))
    similarity = np.empty(len(first), dtype=np.float64)
    for low in range(0, len(first), 65_536):  # bounded memory on unlucky inputs
        a, b = first[low : low + 65_536], second[low : low + 65_536]
        shared = np.asarray(full[a].multiply(full[b]).sum(axis=1)).ravel()
        similarity[low : low + 65_536] = shared / (sizes[a] + sizes[b] - shared)
    hit = similarity > threshold
    pairs = sorted(zip(first[hit].tolist(), second[hit].tolist(), similarity[hit].tolist(), strict=True))
    return [NearDuplicate(a, b, s) for a, b, s in pairs]


def spread(examples: Iterable[Example]) -> dict[str, dict[str, dict[str, int]]]:
    """Row counts per category (a non-complaint under its kind, e.g. "~question") × register × language."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for example in examples:
        label = example.category if example.complaint else f"~{example.kind}"
        by_language = counts.setdefault(label, {}).setdefault(example.register, {})
        by_language[example.language] = by_language.get(example.language, 0) + 1
    return {label: counts[label] for label in sorted(counts)}
