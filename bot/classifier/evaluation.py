"""Metrics on labelled examples: per-category P/R/F1, macro-F1, complaint F1, urgent recall, confusion.

`routing_report` adds what a resident feels, per register and per language: whether a complaint
reached the right department (category → department through the config), with the departments'
confusion matrix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from bot.classifier.base import Classification, Classifier
from bot.classifier.corpus import Example

__all__ = [
    "NOT_A_COMPLAINT",
    "CategoryScore",
    "EvalReport",
    "RoutingReport",
    "RoutingScores",
    "evaluate",
    "format_report",
    "format_routing",
    "routing_report",
]

NOT_A_COMPLAINT = "(not a complaint)"  # the department confusion's column for complaints the bot dropped


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


def classify_all(classifier: Classifier, examples: Sequence[Example]) -> list[Classification]:
    """The classifier's verdict on every example, in order (computed once, scored by several reports)."""
    return [classifier.classify(e.text) for e in examples]


def evaluate(
    classifier: Classifier,
    examples: Sequence[Example],
    results: Sequence[Classification] | None = None,
) -> EvalReport:
    """Score the verdicts on every example (`results`, or classified here) against the labels."""
    if results is None:
        results = classify_all(classifier, examples)
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


@dataclass(frozen=True)
class RoutingScores:
    """Routing metrics of one slice of examples; None where the slice has nothing to measure.

    `department_accuracy` is end to end, as a resident feels it: a true complaint counts only if it was
    detected as a complaint and its routed category belongs to the right department (a triage fallback
    to another department is a miss). `department_accuracy_routed` ignores the complaint verdict, like
    `category_accuracy`. `department_confusion` is over true complaints: true department → department
    reached, or NOT_A_COMPLAINT.
    """

    examples: int
    complaints: int
    urgent: int
    department_accuracy: float | None
    department_accuracy_routed: float | None
    category_accuracy: float | None
    complaint_recall: float | None
    complaint_precision: float | None  # None without non-complaints in the slice
    urgent_recall: float | None
    department_confusion: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingReport:
    """RoutingScores over all examples, per register and per language."""

    overall: RoutingScores
    registers: dict[str, RoutingScores]
    languages: dict[str, RoutingScores]

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return asdict(self)


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _routing_scores(
    pairs: Sequence[tuple[Example, Classification]], departments: Mapping[str, str]
) -> RoutingScores:
    complaints = [(e, r) for e, r in pairs if e.complaint]
    confusion: dict[str, dict[str, int]] = {}
    reached = routed_right = 0
    for example, result in complaints:
        true = departments.get(example.category, "")
        routed = departments.get(result.category, result.department)
        routed_right += routed == true
        got = routed if result.complaint else NOT_A_COMPLAINT
        reached += got == true
        row = confusion.setdefault(true, {})
        row[got] = row.get(got, 0) + 1
    detected = sum(1 for _, r in complaints if r.complaint)
    flagged = sum(1 for _, r in pairs if r.complaint)
    has_others = any(not e.complaint for e, _ in pairs)
    urgent = [r for e, r in pairs if e.urgent]
    return RoutingScores(
        examples=len(pairs),
        complaints=len(complaints),
        urgent=len(urgent),
        department_accuracy=_share(reached, len(complaints)),
        department_accuracy_routed=_share(routed_right, len(complaints)),
        category_accuracy=_share(sum(1 for e, r in complaints if e.category == r.category), len(complaints)),
        complaint_recall=_share(detected, len(complaints)),
        complaint_precision=_share(detected, flagged) if has_others else None,
        urgent_recall=_share(sum(1 for r in urgent if r.urgent and r.complaint), len(urgent)),
        department_confusion={true: dict(sorted(row.items())) for true, row in sorted(confusion.items())},
    )


def routing_report(
    classifier: Classifier,
    examples: Sequence[Example],
    departments: Mapping[str, str],
    results: Sequence[Classification] | None = None,
) -> RoutingReport:
    """Score routing overall, per register and per language (`results`, or classified here).

    `departments` maps category ids to department ids (the config's `categories[].department`).
    """
    if results is None:
        results = classify_all(classifier, examples)
    pairs = list(zip(examples, results, strict=True))

    def by(key: str) -> dict[str, RoutingScores]:
        groups: dict[str, list[tuple[Example, Classification]]] = {}
        for pair in pairs:
            groups.setdefault(getattr(pair[0], key), []).append(pair)
        return {name: _routing_scores(groups[name], departments) for name in sorted(groups)}

    return RoutingReport(_routing_scores(pairs, departments), by("register"), by("language"))


def _cell(value: float | None) -> str:
    return f"{value:7.3f}" if value is not None else f"{'-':>7}"


def format_routing(report: RoutingReport, title: str) -> str:
    """The routing table `shagym eval` prints: one line per slice, then the departments' confusion."""
    lines = [
        title,
        f"{'slice':<16} {'rows':>5} {'compl':>5} {'dept':>7} {'dept*':>7} {'categ':>7} "
        f"{'C rec':>7} {'C prec':>7} {'urg R':>7} {'urg':>4}",
    ]
    slices = [
        ("all", report.overall),
        *((f"register {k}", v) for k, v in report.registers.items()),
        *((f"language {k}", v) for k, v in report.languages.items()),
    ]
    for name, scores in slices:
        lines.append(
            f"{name:<16} {scores.examples:5d} {scores.complaints:5d} {_cell(scores.department_accuracy)} "
            f"{_cell(scores.department_accuracy_routed)} {_cell(scores.category_accuracy)} "
            f"{_cell(scores.complaint_recall)} {_cell(scores.complaint_precision)} "
            f"{_cell(scores.urgent_recall)} {scores.urgent:4d}"
        )
    lines.append(
        "dept: reached the right department (detected as a complaint and routed there); "
        "dept*: routed there, whatever the complaint verdict"
    )
    confusion = report.overall.department_confusion
    reached = sorted({d for row in confusion.values() for d in row if d != NOT_A_COMPLAINT} | set(confusion))
    columns = (
        [*reached, NOT_A_COMPLAINT] if any(NOT_A_COMPLAINT in r for r in confusion.values()) else reached
    )
    short = {d: ("none" if d == NOT_A_COMPLAINT else d[:6]) for d in columns}
    lines += [
        "",
        "department confusion (rows: true, columns: reached; none: not taken for a complaint)",
        " " * 18 + " ".join(f"{short[d]:>6}" for d in columns),
    ]
    for true, row in confusion.items():
        lines.append(f"{true or '?':<18}" + " ".join(f"{row.get(d, 0):6d}" for d in columns))
    return "\n".join(lines)
