"""`python -m bench` (`make bench`): every benchmark, one after the other, results as JSON."""

from __future__ import annotations

import importlib
import sys

# city_day needs PostgreSQL and Redis (see its --help); without them it reports itself skipped
BENCHMARKS = ("bench.pipeline_bench", "bench.classifier_bench", "bench.digest_bench", "bench.city_day")


def main() -> None:
    """Run each benchmark module's main() with its defaults."""
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"{name}: not available ({exc})", file=sys.stderr)
            continue
        print(f"== {name}", flush=True)
        module.main([])


if __name__ == "__main__":
    main()
