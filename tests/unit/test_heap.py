"""Start-up's heap is frozen out of later collections, and young collections come less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.app.heap import THRESHOLDS, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settling_freezes_what_start_up_built_and_raises_the_thresholds() -> None:
    built_at_start = [{"config": n} for n in range(1000)]  # a container the collector tracks
    settle_heap()
    assert gc.get_freeze_count() >= len(built_at_start)
    collected = {id(obj) for generation in range(3) for obj in gc.get_objects(generation=generation)}
    assert not any(id(item) in collected for item in built_at_start)  # no collection walks them again
    assert gc.get_threshold() == THRESHOLDS
    assert THRESHOLDS[0] > 700  # fewer young collections than Python's default
