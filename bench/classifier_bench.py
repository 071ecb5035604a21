"""Classifier benchmark: model load time and single-threaded throughput on typical chat messages.

Run by hand: `python -m bench.classifier_bench [--cache-dir PATH] [--seconds S]`. The model is trained
into the cache first if needed (not timed), then:
- load: a fresh Python process imports the classifier and builds it from the cached model (what the
  bot does at start-up), and the same build timed again in this process (imports already warm);
- memory: how much the cold process' resident memory grows from the import through the build and
  a pass over the held-out messages (what the classifier adds to the bot);
- throughput: `classify` called one message at a time, single-threaded, over the corpus' held-out
  messages (real chat-style texts: short and long, ru/kk/en/mixed): one first pass with a fresh model
  (its per-word cache empty), then repeated passes for S seconds. Messages per wall-clock second and
  per CPU second (the latter is steady on a busy machine); and the same for long formal appeals
  (700 characters and more, from both held-out sets).
Targets: load < 1.5 s, ≥ 2,000 messages/s on chat-style messages, ≥ 300/s on long formal appeals,
memory growth ≤ 150 MB. Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.example.yaml"

_COLD_LOAD = """
import os, sys, time
def rss_mb():
    # current resident set (a forked child's peak would include its parent's)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
rss_before = rss_mb()
start = time.perf_counter()
from pathlib import Path
from bot.classifier import build_classifier
from bot.config import load_config
classifier = build_classifier(load_config(sys.argv[1], environ={}), cache_dir=Path(sys.argv[2]))
elapsed = time.perf_counter() - start
assert classifier.from_cache, "the model was trained, not loaded"
for text in sys.argv[3:]:
    classifier.classify(text)  # the per-word caches a running bot fills
print(elapsed, rss_mb() - rss_before)
"""


def main(argv: list[str] | None = None) -> None:
    """Measure and print load time and messages/s."""
    parser = argparse.ArgumentParser(prog="python -m bench.classifier_bench", description=__doc__)
    parser.add_argument("--cache-dir", type=Path, default=None, help="model cache (default: a temporary one)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to classify for")
    args = parser.parse_args(argv)

    from bot.classifier import build_classifier
    from bot.classifier.corpus import load_corpus, load_holdout, split_corpus
    from bot.config import load_config

    config = load_config(CONFIG, environ={})
    with tempfile.TemporaryDirectory() as temporary:
        cache_dir = args.cache_dir or Path(temporary)
        started = time.perf_counter()
        build_classifier(config, cache_dir=cache_dir)  # trains into the cache when it is empty
        first_build = time.perf_counter() - started

        _, held_out = split_corpus(load_corpus())
        texts = [e.text for e in held_out]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cold = subprocess.run(
            [sys.executable, "-c", _COLD_LOAD, str(CONFIG), str(cache_dir), *texts],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        cold_load, rss_growth = (float(v) for v in cold.stdout.strip().splitlines()[-1].split())

        started = time.perf_counter()
        classifier = build_classifier(config, cache_dir=cache_dir)
        warm_load = time.perf_counter() - started

        started = time.perf_counter()
        for text in texts:
            classifier.classify(text)
        first_pass = len(texts) / (time.perf_counter() - started)
        count = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        deadline = started + args.seconds
        while time.perf_counter() < deadline:
            for text in texts:
                classifier.classify(text)
            count += len(texts)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        both = [*held_out, *load_holdout()]
        appeals = [e.text for e in both if e.register == "formal" and len(e.text) >= 700]
        appeal_count, appeal_started = 0, time.perf_counter()
        while appeals and time.perf_counter() < appeal_started + args.seconds:
            for text in appeals:
                classifier.classify(text)
            appeal_count += len(appeals)
        appeal_elapsed = time.perf_counter() - appeal_started

    chars = sum(len(t) for t in texts) / len(texts)
    print(
        json.dumps(
            {
                "first_build_seconds": round(first_build, 3),
                "cold_load_seconds": round(cold_load, 3),
                "warm_load_seconds": round(warm_load, 3),
                "first_pass_messages_per_second": round(first_pass),
                "messages_per_second": round(count / elapsed),
                "messages_per_cpu_second": round(count / cpu),
                "messages": count,
                "mean_message_chars": round(chars, 1),
                "rss_growth_mb": round(rss_growth, 1),
                "long_appeals_per_second": round(appeal_count / appeal_elapsed) if appeal_count else None,
                "long_appeals": len(appeals),
                "mean_appeal_chars": round(sum(map(len, appeals)) / len(appeals)) if appeals else None,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
