"""The collector's tuning is held by whoever runs (a gateway, an API server) and put back after the last."""

from __future__ import annotations

import gc

from streetwatch.gc_tuning import tuned_gc


def test_overlapping_holders_leave_in_any_order_and_the_first_thresholds_come_back() -> None:
    original = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        first, second = tuned_gc((50_000, 20, 100)), tuned_gc((20_000, 10, 10))
        first.__enter__()
        second.__enter__()
        assert gc.get_threshold() == (20_000, 10, 10)
        first.__exit__(None, None, None)  # the first leaves before the second: still tuned for the second
        assert gc.get_threshold() == (20_000, 10, 10)
        assert gc.get_freeze_count() > 0
        second.__exit__(None, None, None)
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*original)


def test_none_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    with tuned_gc(None) as thresholds:
        assert thresholds is None
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
