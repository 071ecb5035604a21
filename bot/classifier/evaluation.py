"""Metrics on labelled examples: per-category P/R/F1, macro-F1, complaint F1, urgent recall, confusion."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from bot.classifier.base import Classification, Classifier
from bot.classifier.corpus import Example

__all__ = ["CategoryScore", "EvalReport", "evaluate", "format_report"]


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """Precision, recall and F1 of one category, with its number of true examples."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvalReport:
    """Every metric `shagym eval` prints.

    Category metrics are over the true complaints, using the category `classify` routes to (after the
    keyword boost and the triage fallback); `category_macro_f1_best_guess` ignores the fallback.
    `urgent_recall` is end to end: an urgent complaint counts as found only if it was both detected
    as a complaint and flagged urgent.
    """

    examples: int
    complaints: int
    complaint_precision: float
    complaint_recall: float
    complaint_f1: float
    kind_accuracy: float
    category_macro_f1: float
    category_macro_f1_best_guess: float
    category_accuracy: float
    categories: dict[str, CategoryScore]
    urgent_recall: float
    urgent_precision: float
    urgent_support: int
    language_accuracy: float
    triage_share: float
    complaint_brier: float  # calibration of P(complaint): mean squared error of the probability
    complaint_ece: float  # expected calibration error over ten probability bins
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # true → predicted → count

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return asdict(self)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _macro_f1(
    pairs: Sequence[tuple[str, str]], labels: Sequence[str]
) -> tuple[float, dict[str, CategoryScore]]:
    scores: dict[str, CategoryScore] = {}
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision, recall, f1 = _prf(tp, fp, fn)
        scores[label] = CategoryScore(precision, recall, f1, tp + fn)
    present = [s.f1 for s in scores.values() if s.support]
    return (sum(present) / len(present) if present else 0.0), scores


def _calibration(probabilities: Sequence[float], truth: Sequence[bool]) -> tuple[float, float]:
    if not probabilities:
        return 0.0, 0.0
    brier = sum((p - float(t)) ** 2 for p, t in zip(probabilities, truth, strict=True)) / len(truth)
    bins: dict[int, list[tuple[float, bool]]] = {}
    for p, t in zip(probabilities, truth, strict=True):
        bins.setdefault(min(int(p * 10), 9), []).append((p, t))
    ece = 0.0
    for members in bins.values():
        confidence = sum(p for p, _ in members) / len(members)
        accuracy = sum(1 for _, t in members if t) / len(members)
        ece += len(members) / len(truth) * abs(confidence - accuracy)
    return brier, ece


def evaluate(classifier: Classifier, examples: Sequence[Example]) -> EvalReport:
    """Classify every example and score the verdicts against the labels."""
    results: list[Classification] = [classifier.classify(e.text) for e in examples]
    probability = getattr(classifier, "scores", None)
    complaint_p: list[float] = (
        [float(probability(e.text).complaint) for e in examples] if callable(probability) else []
    )

    tp = sum(1 for e, r in zip(examples, results, strict=True) if e.complaint and r.complaint)
    fp = sum(1 for e, r in zip(examples, results, strict=True) if not e.complaint and r.complaint)
    fn = sum(1 for e, r in zip(examples, results, strict=True) if e.complaint and not r.complaint)
    c_precision, c_recall, c_f1 = _prf(tp, fp, fn)

    complaints = [(e, r) for e, r in zip(examples, results, strict=True) if e.complaint]
    labels = sorted({e.category for e, _ in complaints})
    routed = [(e.category, r.category) for e, r in complaints]
    macro, per_category = _macro_f1(routed, labels)
    best_guess = [
        (e.category, r.category if not r.needs_triage else _best(classifier, e.text, r.category))
        for e, r in complaints
    ]
    macro_best, _ = _macro_f1(best_guess, labels)
    confusion: dict[str, dict[str, int]] = {}
    for true, predicted in routed:
        row = confusion.setdefault(true, {})
        row[predicted] = row.get(predicted, 0) + 1

    urgent = [(e, r) for e, r in zip(examples, results, strict=True) if e.urgent]
    found = sum(1 for _, r in urgent if r.urgent and r.complaint)
    flagged = [(e, r) for e, r in zip(examples, results, strict=True) if r.urgent]
    right = sum(1 for e, _ in flagged if e.urgent)
    languages = [(e, r) for e, r in zip(examples, results, strict=True) if e.language]
    brier, ece = _calibration(complaint_p, [e.complaint for e in examples]) if complaint_p else (0.0, 0.0)
    kinds = Counter(e.kind == r.kind for e, r in zip(examples, results, strict=True))
    return EvalReport(
        examples=len(examples),
        complaints=len(complaints),
        complaint_precision=c_precision,
        complaint_recall=c_recall,
        complaint_f1=c_f1,
        kind_accuracy=kinds[True] / len(examples) if examples else 0.0,
        category_macro_f1=macro,
        category_macro_f1_best_guess=macro_best,
        category_accuracy=sum(1 for t, p in routed if t == p) / len(routed) if routed else 0.0,
        categories=per_category,
        urgent_recall=found / len(urgent) if urgent else 0.0,
        urgent_precision=right / len(flagged) if flagged else 0.0,
        urgent_support=len(urgent),
        language_accuracy=(
            sum(1 for e, r in languages if e.language == r.language) / len(languages) if languages else 0.0
        ),
        triage_share=sum(1 for _, r in complaints if r.needs_triage) / len(complaints) if complaints else 0.0,
        complaint_brier=brier,
        complaint_ece=ece,
        confusion=confusion,
    )


def _best(classifier: Classifier, text: str, routed: str) -> str:
    best = getattr(classifier, "best_category", None)
    return str(best(text)) if callable(best) else routed


def format_report(report: EvalReport) -> str:
    """The human-readable report `shagym eval` prints."""
    lines = [
        f"held-out examples: {report.examples} ({report.complaints} complaints)",
        f"complaint  P {report.complaint_precision:.3f}  R {report.complaint_recall:.3f}  "
        f"F1 {report.complaint_f1:.3f}   "
        f"(calibration: Brier {report.complaint_brier:.3f}, ECE {report.complaint_ece:.3f})",
        f"kind accuracy {report.kind_accuracy:.3f}   language accuracy {report.language_accuracy:.3f}",
        f"category macro-F1 {report.category_macro_f1:.3f} (routed, {report.triage_share:.1%} to triage)  "
        f"best guess {report.category_macro_f1_best_guess:.3f}  accuracy {report.category_accuracy:.3f}",
        f"urgent recall {report.urgent_recall:.3f} ({report.urgent_support} urgent)  "
        f"precision {report.urgent_precision:.3f}",
        "",
        f"{'category':<18} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}",
    ]
    for name, score in report.categories.items():
        lines.append(
            f"{name:<18} {score.precision:6.3f} {score.recall:6.3f} {score.f1:6.3f} {score.support:5d}"
        )
    labels = list(report.categories)
    predicted = sorted({p for row in report.confusion.values() for p in row} | set(labels))
    short = {label: label[:5] for label in predicted}
    lines += [
        "",
        "confusion (rows: true, columns: predicted)",
        " " * 18 + " ".join(f"{short[p]:>5}" for p in predicted),
    ]
    for true in labels:
        row = report.confusion.get(true, {})
        lines.append(f"{true:<18}" + " ".join(f"{row.get(p, 0):5d}" for p in predicted))
    return "\n".join(lines)
