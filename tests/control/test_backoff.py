"""Backoff is given the time: no sleeping to test it."""

from __future__ import annotations

import random

from control.backoff import Backoff


def test_doubles_up_to_the_ceiling_and_resets() -> None:
    backoff = Backoff(initial_s=0.5, max_s=3.0, jitter=0.0)
    assert [backoff.failed(10.0) for _ in range(5)] == [10.5, 11.0, 12.0, 13.0, 13.0]
    backoff.reset()
    assert backoff.failed(20.0) == 20.5


def test_jitter_stays_within_its_fraction() -> None:
    backoff = Backoff(initial_s=2.0, max_s=2.0, jitter=0.25, rng=random.Random(7))
    delays = [backoff.failed(0.0) for _ in range(200)]
    assert all(1.5 <= d <= 2.5 for d in delays)
    assert max(delays) - min(delays) > 0.5  # they do spread
