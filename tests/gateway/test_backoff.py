"""Backoff given the time: doubling from the base, capped, spread by jitter."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.backoff import Backoff, backoff_delay_s


@pytest.mark.parametrize(("attempt", "expected_s"), [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (500, 30.0)])
def test_doubles_up_to_the_cap_without_jitter(attempt: int, expected_s: float) -> None:
    assert backoff_delay_s(attempt, base_s=1.0, cap_s=30.0, jitter=0.0) == expected_s


@given(st.integers(1, 200), st.floats(0.01, 100), st.floats(1, 1000), st.integers(0, 2**32))
def test_jitter_stays_within_its_band(attempt: int, base_s: float, cap_s: float, seed: int) -> None:
    cap_s = max(cap_s, base_s)
    delay = backoff_delay_s(attempt, base_s=base_s, cap_s=cap_s, jitter=0.2, rng=random.Random(seed))
    plain = min(cap_s, base_s * 2 ** (attempt - 1))
    assert 0.8 * plain <= delay <= 1.2 * plain


def test_backoff_is_given_the_time() -> None:
    backoff = Backoff(base_s=0.5, cap_s=4.0, jitter=0.0)
    assert [backoff.failed(now=100.0) for _ in range(5)] == [100.5, 101.0, 102.0, 104.0, 104.0]
    assert backoff.delay_s(now=103.0) == 1.0 and backoff.failures == 5
    backoff.succeeded()
    assert backoff.failures == 0 and backoff.delay_s(now=103.0) == 0.0
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base_s=2.0, cap_s=1.0)
