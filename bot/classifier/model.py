"""The trained model as plain arrays: scoring without scikit-learn, saving and loading without pickle.

scikit-learn fits the heads (`bot.classifier.train`); what it learns is a linear map, so the model
keeps only the vocabulary, the IDF weights and one weight matrix for all heads. Scoring a message is
a dictionary lookup per feature (memoised per word) and one small matrix product: fast, thread-safe,
and loading needs neither scikit-learn nor pickle (`numpy.load(allow_pickle=False)`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.classifier.embeddings import EmbeddingTable
from bot.classifier.features import BLOCKS, MAX_CHARS, Analysis, char_ngrams

__all__ = ["HeadScores", "TrainedModel"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class HeadScores:
    """What the three heads say about one message."""

    complaint: float  # P(complaint)
    kinds: dict[str, float]  # P(kind | not a complaint), over question/suggestion/gratitude/other
    categories: dict[str, float]  # P(category)
    urgent: float  # P(urgent | complaint)


# Cached n-gram ids per distinct word: chat vocabulary repeats, so most words are looked up once.
WORD_CACHE_SIZE = 200_000
# 1 + log(count), the sublinear TF, looked up rather than computed; index 0 is unused. A feature
# cannot occur more often than a message (at most MAX_CHARS characters) has characters.
_SUBLINEAR = np.concatenate([[0.0], 1.0 + np.log(np.arange(1, MAX_CHARS + 1))]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """Vocabulary, IDF, block of each feature, and the heads' weights (one column per output)."""

    vocabulary: Mapping[str, int]
    idf: FloatArray
    blocks: npt.NDArray[np.int8]
    weights: FloatArray  # features x outputs: [complaint, kinds..., categories..., urgent]
    bias: FloatArray
    kinds: tuple[str, ...]
    categories: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    # the training complaints as (normalised text, Latin script is Kazakh, category): the evidence the
    # keyword boost measures each config keyword's precision on
    evidence: tuple[tuple[str, bool, str], ...] = ()
    # pretrained word vectors folded into the heads: per word, its unit vector times the heads'
    # embedding weights; a message adds the mean of its words' rows (None: a model without vectors)
    embedding: EmbeddingTable | None = None
    _word_ids: Callable[[str], tuple[int, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # lru_cache is thread-safe; the cache only ever maps a word to the same ids
        object.__setattr__(self, "_word_ids", lru_cache(maxsize=WORD_CACHE_SIZE)(self._char_ids))

    def _char_ids(self, word: str) -> tuple[int, ...]:
        return tuple(i for i in map(self.vocabulary.get, char_ngrams(word)) if i is not None)

    @property
    def complaint_threshold(self) -> float:
        """P(complaint) at or above which a message is a complaint, unless the config sets its own."""
        return float(self.meta.get("complaint_threshold", 0.5))

    @property
    def urgent_threshold(self) -> float:
        """P(urgent) at or above which the model head calls a complaint urgent."""
        return float(self.meta.get("urgent_threshold", 0.5))

    def vectorize(self, analysis: Analysis) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Feature indices and values: sublinear TF x IDF, L2-normalised within each block."""
        ids: list[int] = []
        word_ids = self._word_ids
        for word in analysis.char_words():
            ids.extend(word_ids(word))
        ids.extend(i for i in map(self.vocabulary.get, analysis.word_tokens()) if i is not None)
        idx, counts = np.unique(np.asarray(ids, dtype=np.intp), return_counts=True)
        values = _SUBLINEAR[np.minimum(counts, len(_SUBLINEAR) - 1)] * self.idf[idx]
        if idx.size:
            block = self.blocks[idx]
            norms = np.sqrt(np.bincount(block, weights=values * values, minlength=len(BLOCKS)))
            norms[norms == 0] = 1.0
            values = (values / norms[block]).astype(np.float32)
        return idx, values

    def scores(self, analysis: Analysis) -> HeadScores:
        """Every head's probabilities for one analysed message."""
        idx, values = self.vectorize(analysis)
        raw = self.bias.astype(np.float64)
        if idx.size:
            raw += values @ self.weights[idx]
        if self.embedding is not None:
            mean = self.embedding.mean_row(analysis.words, analysis.bases)
            if mean is not None:
                raw += mean
        n_kinds, n_categories = len(self.kinds), len(self.categories)
        complaint = _sigmoid(float(raw[0]))
        kinds = _softmax(raw[1 : 1 + n_kinds])
        categories = _softmax(raw[1 + n_kinds : 1 + n_kinds + n_categories])
        urgent = _sigmoid(float(raw[1 + n_kinds + n_categories]))
        return HeadScores(
            complaint,
            dict(zip(self.kinds, kinds.tolist(), strict=True)),
            dict(zip(self.categories, categories.tolist(), strict=True)),
            urgent,
        )

    def save(self, path: Path) -> None:
        """Write the model as one .npz file (atomically: a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self.vocabulary.items(), key=lambda item: item[1])
        temporary = path.with_name(f".{path.name}.{np.random.default_rng().integers(1 << 30)}.tmp")
        with temporary.open("wb") as handle:
            np.savez(
                handle,
                vocabulary=_blob(token for token, _ in ordered),
                idf=self.idf,
                blocks=self.blocks,
                weights=self.weights,
                bias=self.bias,
                kinds=np.asarray(self.kinds, dtype=np.str_),
                categories=np.asarray(self.categories, dtype=np.str_),
                meta=np.asarray(json.dumps(self.meta, ensure_ascii=False), dtype=np.str_),
                evidence_text=_blob(e[0] for e in self.evidence),
                evidence_latin=np.asarray([e[1] for e in self.evidence], dtype=np.bool_),
                evidence_category=np.asarray([e[2] for e in self.evidence], dtype=np.str_),
                embedding_hashes=(
                    self.embedding.hashes if self.embedding is not None else np.zeros(0, dtype=np.int64)
                ),
                embedding_table=(
                    self.embedding.table if self.embedding is not None else np.zeros((0, 0), dtype=np.float16)
                ),
            )
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        """Read a model written by `save`."""
        # our own handle: numpy leaks the one it opens when the file is not a valid archive
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            tokens = _unblob(data["vocabulary"])
            hashes = data["embedding_hashes"].astype(np.int64)
            return cls(
                vocabulary={token: index for index, token in enumerate(tokens)},
                idf=data["idf"].astype(np.float32),
                blocks=data["blocks"].astype(np.int8),
                weights=np.ascontiguousarray(data["weights"], dtype=np.float32),
                bias=data["bias"].astype(np.float32),
                kinds=tuple(data["kinds"].tolist()),
                categories=tuple(data["categories"].tolist()),
                meta=json.loads(str(data["meta"])),
                evidence=tuple(
                    zip(
                        _unblob(data["evidence_text"]),
                        [bool(b) for b in data["evidence_latin"].tolist()],
                        data["evidence_category"].tolist(),
                        strict=True,
                    )
                ),
                embedding=(
                    EmbeddingTable(hashes, data["embedding_table"].astype(np.float16))
                    if hashes.size
                    else None
                ),
            )


def _blob(strings: Iterable[str]) -> npt.NDArray[np.uint8]:
    """Strings as one UTF-8 buffer, a newline between them: a fixed-width string array would pad every
    string to the longest one (a 1,000-character appeal made the evidence 36 MB) and reads slower."""
    items = list(strings)
    if any("\n" in item for item in items):
        raise ValueError("a saved string may not contain a newline")
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def _unblob(array: npt.NDArray[Any]) -> list[str]:
    """The strings `_blob` saved."""
    if array.dtype != np.uint8:
        raise ValueError("not a string buffer")
    text = array.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def _softmax(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if values.size == 0:
        return values
    shifted = np.exp(values - values.max())
    result: npt.NDArray[np.float64] = shifted / shifted.sum()
    return result
