"""`shagym classify`, `shagym eval` and `shagym train`: wired into bot.cli with `add_commands(commands)`.

Each subcommand sets `handler`, called as `args.handler(args, stdout, stderr) -> exit code`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from bot.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from bot.classifier.train import Correction

__all__ = ["add_commands", "run_classify", "run_train"]

CLASSIFY_HELP = """\
Classify TEXT and print one JSON line, or with --jsonl classify every line of stdin.

With --jsonl each input line is a JSON object {"text": "..."}; each output line, in the same order,
is {"complaint", "kind", "category", "department", "urgent", "district", "language", "confidence"}.
A line that is not valid JSON, not an object, has no string "text", or is blank gets
{"error": "..."} instead, so output line N always answers input line N; processing continues and the
exit code is 0 unless stdin itself cannot be read (then 1).

The model is loaded from the cache; on the first run (or after the corpus changed) it is trained
first, which takes a few seconds.
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $SHAGYM_CONFIG, then ./config.yaml)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="model cache folder (default: the config's classifier.cache_dir; SHAGYM_CACHE_DIR overrides it)",
    )


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the classify, eval and train subcommands to the `shagym` parser's subparsers."""
    from bot.classifier.eval_command import EVAL_HELP, run_eval

    classify = subparsers.add_parser(
        "classify",
        help="classify a message (or JSON lines on stdin)",
        description=CLASSIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(classify)
    classify.add_argument("--jsonl", action="store_true", help='read JSON lines {"text": ...} on stdin')
    classify.add_argument("text", nargs="?", metavar="TEXT", help="the message to classify")
    classify.set_defaults(handler=run_classify)

    evaluate = subparsers.add_parser(
        "eval",
        help="score the classifier on the held-out split and on the second held-out set",
        description=EVAL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    evaluate.add_argument(
        "--set",
        choices=("chat", "holdout", "all"),
        default="all",
        help="chat: the corpus' held-out split; holdout: the second held-out set; all (default): both",
    )
    evaluate.add_argument(
        "--holdout-dir",
        type=Path,
        default=None,
        help="folder of the second held-out set's *.jsonl (default: the package's bot/corpus/holdout)",
    )
    evaluate.add_argument(
        "--ablation",
        action="store_true",
        help="also score a model trained without each feature block (trains up to four models)",
    )
    evaluate.set_defaults(handler=run_eval)

    train = subparsers.add_parser(
        "train",
        help="retrain on the corpus plus staff reroutings from the database",
        description="Retrain (ignoring the cache) on the corpus' training split plus the complaints staff "
        "rerouted to another category (read from the database), cache the model for the bot, and print "
        "the held-out metrics.",
    )
    _add_common(train)
    train.add_argument("--json", action="store_true", help="print counts and metrics as one JSON object")
    train.set_defaults(handler=run_train)


def _config(path: Path | None, stderr: TextIO) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=stderr)
        return None


def _cache_dir(args: argparse.Namespace, config: Config) -> Path:
    return args.cache_dir if args.cache_dir is not None else config.classifier.cache_dir


def _lines(stream: TextIO) -> Iterator[str | None]:
    """Lines of stdin without their newline; None for a line that is not valid UTF-8.

    The bytes are decoded line by line, so one badly encoded line costs an error line, not the run.
    """
    binary: BinaryIO | None = getattr(stream, "buffer", None)
    if binary is None:  # a text-only stream (tests, embedding): already decoded
        for line in stream:
            yield line.rstrip("\r\n")
        return
    for raw in binary:
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield None


def _parse_line(line: str | None) -> str | dict[str, str]:
    """The text of one JSON line, or an {"error": ...} object for it."""
    if line is None:
        return {"error": "line is not valid UTF-8"}
    if not line.strip():
        return {"error": "blank line"}
    try:
        data = json.loads(line)
    except ValueError as exc:
        return {"error": f"invalid JSON: {exc}"}
    if not isinstance(data, dict):
        return {"error": 'expected a JSON object with a string "text"'}
    text = data.get("text")
    if not isinstance(text, str):
        return {"error": 'missing or non-string "text"'}
    return text


def run_classify(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """`shagym classify`: one JSON line per message."""
    if not args.jsonl and args.text is None:
        print("shagym classify: give TEXT, or --jsonl to read JSON lines on stdin", file=stderr)
        return 2
    config = _config(args.config, stderr)
    if config is None:
        return 2
    from bot.classifier.factory import build_classifier

    classifier = build_classifier(config, cache_dir=_cache_dir(args, config))
    if not args.jsonl:
        print(json.dumps(classifier.classify(args.text).as_dict(), ensure_ascii=False), file=stdout)
        return 0
    try:
        for line in _lines(sys.stdin):
            parsed = _parse_line(line)
            if isinstance(parsed, str):
                out: dict[str, object] = classifier.classify(parsed).as_dict()
            else:
                out = dict(parsed)
            stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            stdout.flush()
    except OSError as exc:
        print(f"shagym classify: cannot read stdin: {exc}", file=stderr)
        return 1
    return 0


async def read_corrections(database_url: str) -> list[Correction]:
    """The staff's reroutings from the database (migrating it first when it is SQLite)."""
    from bot.classifier.corrections import load_corrections
    from storage import migrate
    from storage.db import create_engine, create_session_factory, is_sqlite
    from storage.uow import UnitOfWork

    engine = create_engine(database_url)
    try:
        if is_sqlite(database_url):
            await migrate.upgrade(engine)
        session_factory = create_session_factory(engine)
        return await load_corrections(lambda: UnitOfWork(session_factory))
    finally:
        await engine.dispose()


def run_train(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """`shagym train`: retrain on the training split plus corrections, cache it, print the metrics."""
    config = _config(args.config, stderr)
    if config is None:
        return 2
    from sqlalchemy.exc import SQLAlchemyError

    from bot.classifier.corpus import corpus_hash, load_corpus, split_corpus
    from bot.classifier.engine import ModelClassifier
    from bot.classifier.evaluation import evaluate, format_report
    from bot.classifier.factory import load_or_train, set_active
    from bot.classifier.train import apply_corrections

    try:
        corrections = asyncio.run(read_corrections(config.storage.database_url))
    except (OSError, SQLAlchemyError) as exc:
        print(f"shagym train: cannot read corrections from the database: {exc}", file=stderr)
        return 1
    examples = load_corpus()
    train_rows, held_out = split_corpus(examples)
    training = apply_corrections(train_rows, corrections)
    # corrections of held-out texts fix their labels but never enter training
    held_texts = {e.text.strip() for e in held_out}
    held_out = apply_corrections(held_out, [c for c in corrections if c.text.strip() in held_texts])
    training = [e for e in training if e.text.strip() not in held_texts]
    cache_dir = _cache_dir(args, config)
    loaded = load_or_train(
        cache_dir, examples=examples, corrections=corrections, training=training, force=True
    )
    set_active(cache_dir, corpus_hash(examples), loaded.path)
    report = evaluate(ModelClassifier(loaded.model, config), held_out)
    counts = {
        "corpus": len(examples),
        "training": len(training),
        "held_out": len(held_out),
        "corrections": len(corrections),
        "model": str(loaded.path),
    }
    if args.json:
        print(json.dumps({**counts, "metrics": report.as_dict()}, ensure_ascii=False), file=stdout)
    else:
        print(
            f"corpus rows: {counts['corpus']} (training {counts['training']}, "
            f"held out {counts['held_out']}); corrections: {counts['corrections']}",
            file=stdout,
        )
        print(f"model: {loaded.path}", file=stdout)
        print(format_report(report), file=stdout)
    return 0
