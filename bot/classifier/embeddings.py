"""Pretrained word vectors: words the corpus never saw still land near their meaning.

navec's news vectors (250,000 words, 300 dimensions, product-quantised; MIT) ship inside natasha's
wheel, so nothing is downloaded. They are read only when a model is trained: a message's embedding
is the mean of its words' unit vectors, and since every head is linear in it, training folds the
heads' embedding weights into one small table per word (`project`). Scoring a message then adds up
table rows; the 300-dimensional vectors are never needed at run time.

A word is looked up as written, then by its base form ("подъездах" → "подъезд"). The model keeps the
table keyed by a 64-bit hash of each word (`EmbeddingTable`), not by the words: 250,000 Python strings
would cost the bot some 30 MB of memory and a quarter of a second at every start.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["EMBEDDING_DIM", "EmbeddingTable", "WordVectors", "embedding_ids", "navec_path", "word_hash"]

EMBEDDING_DIM = 300
_NAVEC_FILE = "data/emb/navec_news_v1_1B_250K_300d_100q.tar"
WORD_CACHE_SIZE = 200_000


def word_hash(word: str) -> int:
    """A stable signed 64-bit hash of a word (BLAKE2b): the same in every process, unlike hash()."""
    return int.from_bytes(
        hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little", signed=True
    )


class EmbeddingTable:
    """Per-word rows of the heads' embedding weights, found by word hash; thread-safe, read-only."""

    def __init__(self, hashes: npt.NDArray[np.int64], table: npt.NDArray[np.float16]) -> None:
        if hashes.ndim != 1 or table.ndim != 2 or len(hashes) != len(table):
            raise ValueError("an embedding table needs one row per word hash")
        order = np.argsort(hashes, kind="stable")
        self.hashes = np.ascontiguousarray(hashes[order])
        self.table = np.ascontiguousarray(table[order])
        self.row: Callable[[str], int] = lru_cache(maxsize=WORD_CACHE_SIZE)(self._row)

    @classmethod
    def from_words(cls, words: Sequence[str], table: npt.NDArray[np.float16]) -> EmbeddingTable:
        """The table of `words`' rows (row i belongs to words[i])."""
        return cls(np.asarray([word_hash(w) for w in words], dtype=np.int64), table)

    def __len__(self) -> int:
        return len(self.hashes)

    def _row(self, word: str) -> int:
        key = word_hash(word)
        at = int(np.searchsorted(self.hashes, key))
        return at if at < len(self.hashes) and int(self.hashes[at]) == key else -1

    def rows(self, words: Iterable[str], bases: Iterable[str]) -> list[int]:
        """Rows of a message's words: each word as written, else its base form (as `embedding_ids`)."""
        row = self.row
        found: list[int] = []
        for word, base in zip(words, bases, strict=True):
            at = row(word)
            if at < 0:
                at = row(base)
            if at >= 0:
                found.append(at)
        return found

    def mean_row(self, words: Iterable[str], bases: Iterable[str]) -> npt.NDArray[np.float64] | None:
        """The mean of the message's rows: what its word vectors add to each head (None: no known word)."""
        rows = self.rows(words, bases)
        if not rows:
            return None
        result: npt.NDArray[np.float64] = self.table[rows].astype(np.float64).mean(axis=0)
        return result


def navec_path() -> Path:
    """Where natasha's wheel keeps navec's news vectors."""
    return Path(str(resources.files("natasha").joinpath(_NAVEC_FILE)))


def embedding_ids(index: Mapping[str, int], words: Iterable[str], bases: Iterable[str]) -> list[int]:
    """Vector rows of a message's words: each word as written, else its base form; unknown words skipped."""
    rows: list[int] = []
    get = index.get
    for word, base in zip(words, bases, strict=True):
        row = get(word)
        if row is None:
            row = get(base)
        if row is not None:
            rows.append(row)
    return rows


class WordVectors:
    """navec's vocabulary and product-quantised vectors, decoded to unit vectors on demand."""

    def __init__(self, path: Path | None = None) -> None:
        path = path or navec_path()
        with tarfile.open(path) as archive:
            meta = json.loads(_member(archive, "meta.json"))
            vocab = _member(archive, "vocab.bin")
            pq = _member(archive, "pq.bin")
        if meta.get("pq") is False:
            raise ValueError(f"{path}: not a product-quantised navec archive")
        words = _vocab_words(vocab)
        vectors, dim, qdim, centroids = (int(v) for v in np.frombuffer(pq[:16], np.uint32))
        if dim != EMBEDDING_DIM or vectors != len(words):
            raise ValueError(f"{path}: {vectors} vectors of {dim} dimensions for {len(words)} words")
        self._indexes = np.frombuffer(pq[16 : 16 + vectors * qdim], np.uint8).reshape(vectors, qdim)
        self._codes = np.frombuffer(pq[16 + vectors * qdim :], np.float32).reshape(qdim, centroids, -1)
        self._qdims = np.arange(qdim)
        self.words: list[str] = []
        self.index: dict[str, int] = {}
        rows: list[int] = []
        for row, word in enumerate(words):
            key = word.replace("ё", "е")  # our normalisation writes е for ё
            if key and key not in self.index and not word.startswith("<"):
                self.index[key] = len(self.words)
                self.words.append(key)
                rows.append(row)
        self._rows = np.asarray(rows, dtype=np.int64)

    def unit_vectors(self, ids: Sequence[int] | npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Unit-length vectors of the given word ids (rows of `words`)."""
        indexes = self._indexes[self._rows[np.asarray(ids, dtype=np.int64)]]
        parts = self._codes[self._qdims, indexes]  # ids x qdim x (dim / qdim)
        vectors = parts.reshape(len(indexes), EMBEDDING_DIM).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: npt.NDArray[np.float32] = vectors / norms
        return result

    def mean_vectors(self, messages: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
        """One row per message: the mean of its words' unit vectors (zeros when none is known)."""
        out = np.zeros((len(messages), EMBEDDING_DIM), dtype=np.float64)
        for i, ids in enumerate(messages):
            if ids:
                out[i] = self.unit_vectors(ids).mean(axis=0)
        return out

    def project(self, weights: npt.NDArray[np.float64], chunk: int = 20_000) -> npt.NDArray[np.float32]:
        """Every word's unit vector times `weights` (dim x outputs): the per-word table scoring adds up."""
        table = np.empty((len(self.words), weights.shape[1]), dtype=np.float32)
        for start in range(0, len(self.words), chunk):
            ids = np.arange(start, min(start + chunk, len(self.words)))
            table[start : start + len(ids)] = self.unit_vectors(ids) @ weights.astype(np.float32)
        return table


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    if handle is None:
        raise ValueError(f"navec archive has no {name}")
    with handle:
        return handle.read()


def _vocab_words(data: bytes) -> list[str]:
    """The words of navec's vocab.bin (gzip: a uint32 count n, n uint32 frequencies, the words by line)."""
    import gzip

    text = gzip.decompress(data)
    (size,) = np.frombuffer(text[:4], np.uint32)
    return text[4 + 4 * int(size) :].decode("utf-8").splitlines()
