"""The one backoff, driven by a fake clock: ``failed(now)`` always returns when to try next."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streetwatch.backoff import Backoff, backoff_delay_s


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.mark.parametrize(("attempt", "initial_s", "max_s", "factor", "expected_s"), [
    (0, 1.0, 30.0, 2.0, 0.0),
    (1, 1.0, 30.0, 2.0, 1.0),
    (2, 1.0, 30.0, 2.0, 2.0),
    (3, 1.0, 30.0, 2.0, 4.0),
    (6, 1.0, 30.0, 2.0, 30.0),
    (500, 1.0, 30.0, 2.0, 30.0),
    (5_000, 0.5, 10.0, 3.0, 10.0),  # beyond a float: still the maximum
    (3, 0.5, 60.0, 3.0, 4.5),
    (4, 2.0, 2.0, 2.0, 2.0),
    (4, 1.0, 60.0, 1.0, 1.0),  # factor 1: a constant delay
])
def test_delay_without_jitter(attempt: int, initial_s: float, max_s: float, factor: float, expected_s: float) -> None:
    assert backoff_delay_s(attempt, initial_s=initial_s, max_s=max_s, factor=factor, jitter=0.0) == expected_s


@pytest.mark.parametrize(("steps", "expected"), [
    # (seconds the clock moves before each failure) → (next attempt times, absolute on the same clock)
    ([0, 0, 0, 0, 0], [1_000.5, 1_001.0, 1_002.0, 1_004.0, 1_004.0]),
    ([0.5, 1.0, 2.0, 4.0], [1_001.0, 1_002.5, 1_005.5, 1_011.5]),  # each retry fails when it is due
    ([10, 10], [1_010.5, 1_021.0]),
])
def test_failed_returns_when_to_try_next(steps: list[float], expected: list[float]) -> None:
    clock = FakeClock()
    backoff = Backoff(initial_s=0.5, max_s=4.0, jitter=0.0)
    got = []
    for step in steps:
        got.append(backoff.failed(clock.advance(step)))
        assert not backoff.ready(clock.now)
        assert backoff.delay_s(clock.now) == pytest.approx(got[-1] - clock.now)
    assert got == pytest.approx(expected)
    assert backoff.failures == len(steps)


def test_ready_when_due_and_again_after_success() -> None:
    clock = FakeClock()
    backoff = Backoff(initial_s=2.0, max_s=8.0, jitter=0.0)
    assert backoff.ready(clock.now) and backoff.delay_s(clock.now) == 0.0
    due = backoff.failed(clock.now)
    assert not backoff.ready(clock.advance(1.999))
    assert backoff.ready(clock.advance(0.001)) and clock.now == due
    backoff.failed(clock.now)
    backoff.succeeded()
    assert backoff.failures == 0 and backoff.ready(clock.now)
    assert backoff.failed(clock.now) == clock.now + 2.0  # starts again from the initial delay


@pytest.mark.parametrize("kwargs", [
    {"initial_s": 0.0, "max_s": 1.0},
    {"initial_s": 2.0, "max_s": 1.0},
    {"initial_s": 1.0, "max_s": 2.0, "factor": 0.5},
    {"initial_s": 1.0, "max_s": 2.0, "jitter": 1.0},
])
def test_refuses_settings_that_make_no_sense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kwargs)


@given(st.integers(1, 200), st.floats(0.01, 100), st.floats(1, 1000), st.floats(0, 0.5), st.integers(0, 2**32))
def test_jitter_stays_within_its_band(attempt: int, initial_s: float, max_s: float, jitter: float, seed: int) -> None:
    max_s = max(max_s, initial_s)
    delay = backoff_delay_s(attempt, initial_s=initial_s, max_s=max_s, jitter=jitter, rng=random.Random(seed))
    plain = min(max_s, initial_s * 2 ** (attempt - 1))
    assert plain * (1 - jitter) - 1e-9 <= delay <= plain * (1 + jitter) + 1e-9


def test_jitter_spreads_clients_that_failed_together() -> None:
    backoffs = [Backoff(initial_s=2.0, max_s=2.0, jitter=0.25, rng=random.Random(seed)) for seed in range(200)]
    due = [b.failed(now=0.0) for b in backoffs]
    assert all(1.5 <= d <= 2.5 for d in due)
    assert max(due) - min(due) > 0.5
