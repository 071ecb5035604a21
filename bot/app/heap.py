"""Garbage collection for a long-running bot: what start-up built is frozen out of every collection.

The config, the classifier's model, the ORM's mappings and the libraries' schemas live as long as the
process; left in the collected heap, each full collection walks all of them again (pauses of 170–270 ms
every 7–15 s in a city-day run). Frozen, a collection walks only what was allocated since.
"""

from __future__ import annotations

import gc

# Young collections after 5,000 net allocations instead of 700: the hot path allocates thousands of
# short-lived objects per complaint (ORM rows, pydantic models, JSON), and the default collects several
# times per complaint. Measured in bench.city_day (paced, start-up frozen): 5,000 makes 11 times fewer
# collections, each still about 5 ms at most (a middle collection about 10 ms); 20,000 made young
# collections of 12 ms (up to 70 ms on a busy machine), and middle ones four times larger.
THRESHOLDS = (5_000, 10, 10)


def settle_heap() -> None:
    """Collect start-up's garbage, freeze what survives out of later collections, raise the thresholds."""
    gc.collect()  # what start-up dropped is freed now, not kept frozen for the life of the process
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
