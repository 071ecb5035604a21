"""`shagym eval`: the corpus model scored on both held-out sets, per register and language, and the
feature-block ablation."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from bot.classifier.commands import _cache_dir, _config

if TYPE_CHECKING:
    from bot.classifier.corpus import Example
    from bot.classifier.engine import ModelClassifier
    from bot.classifier.evaluation import EvalReport, RoutingReport

__all__ = ["BLOCK_NAMES", "EVAL_HELP", "run_eval"]

EVAL_HELP = """\
Score the corpus model (never the corrected one) on two sets it was never trained on:

chat     the held-out 20% of bot/corpus/*.jsonl (a fixed split by text hash): per-category
         precision/recall/F1, macro-F1, complaint F1, urgent recall, category confusion;
holdout  the second held-out set, bot/corpus/holdout/*.jsonl: formal letters and terse portal
         titles written apart from the training rows (the same metrics).

For each set, per register and per language: department accuracy (category -> department through
the config's categories[].department; a complaint counts only if it was taken for a complaint and
reached the right department), category accuracy, complaint recall and precision, urgent recall,
and the departments' confusion matrix. With --json the chat split's metrics stay top-level (with
--set holdout, the holdout's), each set is under "sets", row counts under "spread".

--ablation also trains one model without each feature block (character n-grams, lexicon concepts,
base forms, word vectors; each cached like the bot's model) and prints what leaving the
block out costs on each set: the evidence each block was kept on. Minutes on a cold cache.
"""

# What each feature block is, for the ablation table
BLOCK_NAMES = {
    "c": "character n-grams",
    "k": "lexicon concepts",
    "l": "base forms",
    "e": "word vectors",
}


def run_eval(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """`shagym eval`: metrics of the corpus model on the held-out split and the second held-out set."""
    config = _config(args.config, stderr)
    if config is None:
        return 2
    from bot.classifier.corpus import HOLDOUT_DIR, load_corpus, load_holdout, split_corpus, spread
    from bot.classifier.engine import ModelClassifier
    from bot.classifier.evaluation import format_report, format_routing
    from bot.classifier.factory import load_or_train

    examples = load_corpus()
    _, held_out = split_corpus(examples)
    holdout_dir = args.holdout_dir if args.holdout_dir is not None else HOLDOUT_DIR
    try:
        holdout = load_holdout(holdout_dir) if args.set != "chat" else []
    except (OSError, ValueError) as exc:
        print(f"shagym eval: cannot read the second held-out set: {exc}", file=stderr)
        return 1
    if args.set == "holdout" and not holdout:
        print(f"shagym eval: the second held-out set has no rows ({holdout_dir})", file=stderr)
        return 1
    # the corpus-only model: a corrected model may have learnt from held-out texts' corrections
    loaded = load_or_train(_cache_dir(args, config), examples=examples)
    classifier = ModelClassifier(loaded.model, config)
    departments = {c.id: c.department for c in config.categories}
    sets: dict[str, list[Example]] = {}
    if args.set in ("chat", "all"):
        sets["chat"] = held_out
    if args.set in ("holdout", "all"):
        sets["holdout"] = holdout
    reports, routing = _score_sets(classifier, sets, departments)
    ablation: dict[str, dict[str, float | None]] = {}
    if args.ablation:
        ablation["(all blocks)"] = _headline(reports, routing)
        for block in BLOCK_NAMES:
            ablated = load_or_train(_cache_dir(args, config), examples=examples, without=(block,))
            ablation[block] = _headline(
                *_score_sets(ModelClassifier(ablated.model, config), sets, departments)
            )
    if args.json:
        top = reports.get("chat") or reports["holdout"]
        out: dict[str, object] = dict(top.as_dict())
        out["sets"] = {
            name: {
                "rows": len(rows),
                "metrics": reports[name].as_dict() if name in reports else None,
                "routing": routing[name].as_dict() if name in routing else None,
            }
            for name, rows in sets.items()
        }
        # rows per category × register × language: where the sets are thin
        out["spread"] = {"training": spread(examples), "holdout": spread(holdout)}
        if ablation:
            out["ablation"] = ablation
        print(json.dumps(out, ensure_ascii=False), file=stdout)
        return 0
    titles = {
        "chat": "chat held-out split of bot/corpus (never trained on)",
        "holdout": f"second held-out set, {holdout_dir} (never trained on)",
    }
    blocks: list[str] = []
    for name, rows in sets.items():
        if not rows:
            blocks.append(f"== {titles[name]}: no rows")
            continue
        blocks.append(f"== {titles[name]}\n{format_report(reports[name])}")
        blocks.append(format_routing(routing[name], f"routing, {name} ({len(rows)} rows)"))
    if ablation:
        blocks.append(_format_ablation(ablation))
    print("\n\n".join(blocks), file=stdout)
    return 0


def _score_sets(
    classifier: ModelClassifier, sets: Mapping[str, Sequence[Example]], departments: Mapping[str, str]
) -> tuple[dict[str, EvalReport], dict[str, RoutingReport]]:
    """Both reports for every non-empty set, each text classified once."""
    from bot.classifier.evaluation import classify_all, evaluate, routing_report

    reports: dict[str, EvalReport] = {}
    routing: dict[str, RoutingReport] = {}
    for name, rows in sets.items():
        if rows:
            results = classify_all(classifier, rows)
            reports[name] = evaluate(classifier, rows, results)
            routing[name] = routing_report(classifier, rows, departments, results)
    return reports, routing


def _headline(
    reports: Mapping[str, EvalReport], routing: Mapping[str, RoutingReport]
) -> dict[str, float | None]:
    """The figures the ablation compares, per set: department accuracy, complaint recall, macro-F1."""
    out: dict[str, float | None] = {}
    for name, report in reports.items():
        out[f"{name}_department_accuracy"] = routing[name].overall.department_accuracy
        out[f"{name}_complaint_recall"] = report.complaint_recall
        out[f"{name}_complaint_precision"] = report.complaint_precision
        out[f"{name}_category_macro_f1"] = report.category_macro_f1
        out[f"{name}_urgent_recall"] = report.urgent_recall
    return out


def _format_ablation(ablation: Mapping[str, Mapping[str, float | None]]) -> str:
    """The ablation table: each model's figures, and the change against the model with every block."""
    full = ablation["(all blocks)"]
    columns = list(full)
    short = {
        "department_accuracy": "dept",
        "complaint_recall": "C rec",
        "complaint_precision": "C prec",
        "category_macro_f1": "cat F1",
        "urgent_recall": "urg R",
    }
    heads = []
    for column in columns:
        set_name, _, metric = column.partition("_")
        heads.append(f"{set_name[:5]} {short.get(metric, metric)}")
    lines = [
        "feature blocks: each model trained without one block (change against the model with all blocks)",
        f"{'without':<24}" + "".join(f"{h:>15}" for h in heads),
    ]
    for block, figures in ablation.items():
        label = block if block not in BLOCK_NAMES else f"{block} {BLOCK_NAMES[block]}"
        cells = []
        for column in columns:
            value, base = figures.get(column), full.get(column)
            if value is None:
                cells.append(f"{'-':>15}")
            elif block == "(all blocks)" or base is None:
                cells.append(f"{value:>15.3f}")
            else:
                cells.append(f"{value:>7.3f} ({value - base:+.3f})")
        lines.append(f"{label[:24]:<24}" + "".join(cells))
    return "\n".join(lines)
