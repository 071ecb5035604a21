"""Fitting the heads with scikit-learn (imported only here: a cached model loads without it).

Hyper-parameters were chosen by cross-validation on the training split only (never on the held-out
rows): regularisation C per head and the weight of each feature block (5-fold at first; the base-form
and word-vector blocks and the lexicon's weight for the category and complaint heads by 3-fold
cross-validation when those blocks came), and the complaint and urgency thresholds (3-fold, see
COMPLAINT_THRESHOLD).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.classifier.corpus import Example
from bot.classifier.embeddings import EMBEDDING_DIM, EmbeddingTable, WordVectors, embedding_ids
from bot.classifier.features import BLOCKS, DENSE_BLOCK, FEATURE_VERSION, Analyzer
from bot.classifier.model import TrainedModel

__all__ = [
    "ALL_BLOCKS",
    "COMPLAINT_THRESHOLD",
    "CORRECTION_WEIGHT",
    "HEADS",
    "NON_COMPLAINT_KINDS",
    "URGENT_THRESHOLD",
    "Correction",
    "HeadSpec",
    "apply_corrections",
    "fit_temperature",
    "sparse_matrix",
    "train_model",
]

NON_COMPLAINT_KINDS = ("question", "suggestion", "gratitude", "other")
# Character n-grams seen in a single message are mostly typos and names: they need two messages.
MIN_DF = {"c": 2, "k": 1, "l": 1}
ALL_BLOCKS = (*BLOCKS, DENSE_BLOCK)
# Both chosen by `python -m bot.classifier.calibration`: 3-fold cross-validation on the training split
# only, out-of-fold scores (README "Classifier" has the table).
# Urgency (head OR rules, end to end): out-of-fold urgent recall / precision 0.20: 0.898 / 0.464, 0.15:
# 0.916 / 0.427, 0.12: 0.929 / 0.396, 0.10: 0.936 / 0.371, 0.08: 0.951 / 0.345. The calibration's rule
# (recall >= 0.95) picks 0.08, but below 0.12 a routine month-old pothole is flagged urgent (P 0.116):
# the flag must keep meaning "now" to the staff, so the threshold stays 0.12 until the head ranks better.
URGENT_THRESHOLD = 0.12
# Complaint: the highest threshold with recall >= 0.975 that keeps precision >= 0.93 (0.5: R 0.968 /
# P 0.943, 0.45: 0.972 / 0.937, 0.4: 0.976 / 0.933, 0.35: 0.978 / 0.928); a config may set its own.
COMPLAINT_THRESHOLD = 0.4
# A staff rerouting is authoritative, recent and in-domain: it weighs as much as this many corpus rows,
# so one correction is enough to move the prediction for its text.
CORRECTION_WEIGHT = 5.0


@dataclass(frozen=True, slots=True)
class HeadSpec:
    """One head: its learner, regularisation and per-block feature weights (c, k, l, e).

    "logistic" is logistic regression with its own probabilities. "svm" is a one-vs-rest linear SVM
    whose decision values are turned into probabilities by a softmax with one temperature, fitted on
    3-fold cross-validated decision values (temperature scaling keeps the SVM's ranking and
    calibrates its confidence). The category head uses it: slightly better macro-F1 in cross-validation.
    """

    c: float
    block_weights: tuple[float, float, float, float]
    balanced: bool = False
    learner: str = "logistic"


HEADS: dict[str, HeadSpec] = {
    "complaint": HeadSpec(30.0, (1.0, 0.5, 1.0, 1.0)),
    "kind": HeadSpec(10.0, (1.0, 0.75, 0.5, 1.0)),
    "category": HeadSpec(0.5, (1.0, 0.5, 1.0, 1.0), learner="svm"),
    "urgent": HeadSpec(10.0, (1.0, 0.75, 0.5, 1.0), balanced=True),
}


@dataclass(frozen=True, slots=True)
class Correction:
    """A staff rerouting: this complaint text belongs to `category` (it was `previous_category`)."""

    text: str
    category: str
    previous_category: str | None = None


def apply_corrections(examples: Sequence[Example], corrections: Iterable[Correction]) -> list[Example]:
    """The examples with corrections applied: a corrected text becomes a complaint of the new category.

    A correction overrides the corpus label of the same text (compared stripped); a text the corpus
    does not have is added, with urgency unknown (False: the urgency head skips added rows).
    """
    latest: dict[str, Correction] = {}
    for item in corrections:
        if item.text.strip():
            latest[item.text.strip()] = item  # the last rerouting wins
    out: list[Example] = []
    for example in examples:
        key = example.text.strip()
        correction = latest.pop(key) if key in latest else None
        if correction is None:
            out.append(example)
        else:
            out.append(
                Example(
                    example.text,
                    True,
                    "complaint",
                    correction.category,
                    example.urgent,
                    example.language,
                    CORRECTION_WEIGHT,
                )
            )
    out.extend(
        Example(c.text, True, "complaint", c.category, False, "", CORRECTION_WEIGHT) for c in latest.values()
    )
    return out


def sparse_matrix(
    rows: Sequence[Counter[str]], vocabulary: Mapping[str, int], idf: npt.NDArray[np.float32], blocks: Any
) -> Any:
    """TF-IDF rows (sublinear TF, L2 norm within each block) of feature counts, as a CSR matrix."""
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for counts in rows:
        for token, count in counts.items():
            index = vocabulary.get(token)
            if index is not None:
                indices.append(index)
                data.append(1.0 + math.log(count))
        indptr.append(len(indices))
    idx = np.asarray(indices, dtype=np.int64)
    values = np.asarray(data, dtype=np.float64) * idf[idx]
    # L2 norm per (row, block), exactly as TrainedModel.vectorize does for one message
    row_of = np.repeat(np.arange(len(rows)), np.diff(indptr))
    group = row_of * len(BLOCKS) + blocks[idx]
    norms = np.sqrt(np.bincount(group, weights=values * values, minlength=len(rows) * len(BLOCKS)))
    norms[norms == 0] = 1.0
    values = values / norms[group]
    return csr_matrix((values, idx, np.asarray(indptr)), shape=(len(rows), len(vocabulary)))


def _fit(x: Any, y: Any, spec: HeadSpec, blocks: Any, weights: Any) -> tuple[Any, Any, list[Any]]:
    """Fit one head; returns (coef on unweighted features, bias, classes) of a softmax/sigmoid layer."""
    from scipy.sparse import diags
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]

    scale = np.asarray(spec.block_weights, dtype=np.float64)[blocks]
    weighted = x @ diags(scale)
    labels = np.asarray(y)
    with warnings.catch_warnings():
        # lbfgs/liblinear may stop a hair short of their tolerance on a few heads; the fit is still good
        warnings.simplefilter("ignore", ConvergenceWarning)
        if spec.learner == "svm":
            coef, intercept, classes = _fit_svm(weighted, labels, spec, weights)
        else:
            from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

            model = LogisticRegression(
                C=spec.c, max_iter=5000, class_weight="balanced" if spec.balanced else None, tol=1e-4
            )
            model.fit(weighted, labels, sample_weight=weights)
            coef, intercept, classes = model.coef_, model.intercept_, list(model.classes_)
    # the head saw block-weighted features: fold the weights into its coefficients
    return coef * scale[np.newaxis, :], intercept, classes


def _fit_svm(x: Any, y: Any, spec: HeadSpec, weights: Any) -> tuple[Any, Any, list[Any]]:
    """A one-vs-rest linear SVM, temperature-scaled into softmax probabilities."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

    def learner() -> Any:
        return LinearSVC(
            C=spec.c, class_weight="balanced" if spec.balanced else None, max_iter=5000, random_state=0
        )

    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    decision = cross_val_predict(
        learner(), x, y, cv=folds, method="decision_function", params={"sample_weight": weights}
    )
    model = learner().fit(x, y, sample_weight=weights)
    classes = list(model.classes_)
    if len(classes) < 3:
        raise ValueError("the svm learner is for three or more classes")
    temperature = fit_temperature(decision, np.searchsorted(model.classes_, y))
    return model.coef_ * temperature, model.intercept_ * temperature, classes


def fit_temperature(decision: Any, truth: Any) -> float:
    """The factor t minimising the log-loss of softmax(t * decision) (golden-section search on log t)."""

    def loss(log_t: float) -> float:
        z = decision * math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(truth)), truth].mean())

    low, high = math.log(0.05), math.log(100.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return math.exp((low + high) / 2)


def train_model(
    examples: Sequence[Example],
    *,
    analyzer: Analyzer | None = None,
    meta: dict[str, Any] | None = None,
    urgent_threshold: float = URGENT_THRESHOLD,
    complaint_threshold: float = COMPLAINT_THRESHOLD,
    vectors: WordVectors | None = None,
    without: Iterable[str] = (),
) -> TrainedModel:
    """Fit the complaint, kind, category and urgency heads on `examples`.

    `without` names feature blocks to leave out (the ablation `shagym eval --ablation` prints);
    `vectors` are the pretrained word vectors (read from natasha's wheel when not given).
    """
    dropped = frozenset(without)
    unknown = dropped - set(ALL_BLOCKS)
    if unknown:
        raise ValueError(f"unknown feature blocks: {', '.join(sorted(unknown))}")
    heads = {
        name: replace(
            spec,
            block_weights=tuple(  # type: ignore[arg-type]
                0.0 if block in dropped else weight
                for block, weight in zip(ALL_BLOCKS, spec.block_weights, strict=True)
            ),
        )
        for name, spec in HEADS.items()
    }
    if not any(e.complaint for e in examples) or all(e.complaint for e in examples):
        raise ValueError("training needs both complaints and non-complaints")
    analyzer = analyzer or Analyzer()
    analyses = [analyzer.analyze(e.text) for e in examples]
    rows = [a.feature_counts() for a in analyses]
    evidence = tuple(
        (a.normalized, a.votes.latin_is_kazakh, e.category)
        for a, e in zip(analyses, examples, strict=True)
        if e.complaint and a.normalized  # an empty text is no evidence (and could not be saved)
    )

    df: Counter[str] = Counter()
    for counts in rows:
        df.update(counts.keys())
    tokens = sorted(t for t, n in df.items() if n >= MIN_DF[t[0]] and t[0] not in dropped)
    vocabulary = {token: index for index, token in enumerate(tokens)}
    n_docs = len(rows)
    idf = np.asarray([math.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in tokens], dtype=np.float32)
    blocks = np.asarray([BLOCKS.index(t[0]) for t in tokens], dtype=np.int8)
    x = sparse_matrix(rows, vocabulary, idf, blocks)
    embedded = DENSE_BLOCK not in dropped
    if embedded:
        from scipy.sparse import csr_matrix, hstack

        vectors = vectors or WordVectors()
        message_ids = [embedding_ids(vectors.index, a.words, a.bases) for a in analyses]
        x = hstack([x, csr_matrix(vectors.mean_vectors(message_ids))], format="csr")
        blocks = np.concatenate([blocks, np.full(EMBEDDING_DIM, len(BLOCKS), dtype=np.int8)])

    complaint = np.asarray([e.complaint for e in examples])
    weight = np.asarray([e.weight for e in examples], dtype=np.float64)
    coef_c, bias_c, _ = _fit(x, complaint, heads["complaint"], blocks, weight)  # classes [False, True]

    non_complaints = np.flatnonzero(~complaint)
    kind_labels = [examples[int(i)].kind for i in non_complaints]
    coef_k, bias_k, kinds = _fit_multi(
        x[non_complaints], kind_labels, heads["kind"], blocks, weight[non_complaints]
    )

    # categories: complaints, plus non-complaints that have a topic (a question about the bus is
    # still about public transport); "other" non-complaints carry no topic and are left out
    topical = [i for i, e in enumerate(examples) if e.complaint or e.category != "other"]
    coef_g, bias_g, categories = _fit_multi(
        x[topical], [examples[i].category for i in topical], heads["category"], blocks, weight[topical]
    )

    urgent_rows = [i for i, e in enumerate(examples) if e.complaint and e.language]
    urgent = [examples[i].urgent for i in urgent_rows]
    if any(urgent) and not all(urgent):
        coef_u, bias_u, _ = _fit(x[urgent_rows], urgent, heads["urgent"], blocks, weight[urgent_rows])
    else:  # nothing to learn from: the rules alone decide
        coef_u, bias_u = np.zeros((1, x.shape[1])), np.asarray([-10.0])

    weights = np.vstack([coef_c, coef_k, coef_g, coef_u]).T
    embedding = None
    if embedded and vectors is not None:
        embedding = EmbeddingTable.from_words(
            vectors.words, vectors.project(weights[len(tokens) :]).astype(np.float16)
        )
        weights = weights[: len(tokens)]
        blocks = blocks[: len(tokens)]
    bias = np.concatenate([bias_c, bias_k, bias_g, bias_u]).astype(np.float32)
    info = {
        "feature_version": FEATURE_VERSION,
        "sklearn": metadata.version("scikit-learn"),
        "urgent_threshold": urgent_threshold,
        "complaint_threshold": complaint_threshold,
        "examples": len(examples),
        "features": len(tokens),
        "without": sorted(dropped),
        **(meta or {}),
    }
    return TrainedModel(
        vocabulary=vocabulary,
        idf=idf,
        blocks=blocks,
        weights=np.ascontiguousarray(weights, dtype=np.float32),
        bias=bias,
        kinds=tuple(str(k) for k in kinds),
        categories=tuple(str(c) for c in categories),
        meta=info,
        evidence=evidence,
        embedding=embedding,
    )


def _fit_multi(
    x: Any, labels: list[str], spec: HeadSpec, blocks: Any, weights: Any
) -> tuple[Any, Any, list[Any]]:
    """A multi-class head; with two classes sklearn returns one column, expanded here to two."""
    classes = sorted(set(labels))
    if len(classes) == 1:
        return np.zeros((1, x.shape[1])), np.asarray([0.0]), classes
    if len(classes) < 3 or min(labels.count(c) for c in classes) < 3:
        spec = replace(spec, learner="logistic")  # too few classes or rows for the SVM's calibration folds
    coef, bias, fitted = _fit(x, labels, spec, blocks, weights)
    if len(fitted) == 2:  # binary: softmax over (-z/2, z/2) equals the sigmoid of z
        coef = np.vstack([-coef / 2, coef / 2])
        bias = np.asarray([-bias[0] / 2, bias[0] / 2])
    return coef, bias, fitted
