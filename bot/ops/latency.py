"""A latency histogram with fixed buckets: cheap to observe into, read by the metrics endpoint.

Plain Python with no metrics library, so the work (classifying, an inbox row, a card) is observed into
one as it happens without knowing about Prometheus; `bot/ops/metrics.py` turns it into a Prometheus
histogram at scrape time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

# seconds; the last bucket is +Inf and implicit
CLASSIFY_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PROCESS_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CARD_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)


class LatencyHistogram:
    """Counts of observations per bucket (not cumulative), their sum and count."""

    def __init__(self, buckets: Sequence[float] = CLASSIFY_BUCKETS) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError("buckets must be increasing and distinct")
        self.bounds: tuple[float, ...] = tuple(buckets)
        self._counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Record one observation."""
        self._counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def observe_many(self, values: Iterable[float]) -> None:
        """Record several observations."""
        for value in values:
            self.observe(value)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it) per bucket, ending with (inf, count)."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self._counts, strict=True):
            running += count
            out.append((bound, running))
        return out
