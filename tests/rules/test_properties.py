"""Properties over generated signals: one crossing raises once; noise inside the deadband never flaps."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.persistence import Debouncer
from tests.rules.support import Harness, device

THRESHOLD = 300.0
DEADBAND = 20.0
RULE = """
rules:
  - name: level
    kind: threshold
    metric: water_level_mm
    levels: {{yellow: {threshold}}}
    deadband: {deadband}
    for: {for_s}
    clear_for: {clear_for_s}
"""
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
gaps = st.integers(min_value=1, max_value=90)


@SETTINGS
@given(
    below=st.lists(st.tuples(gaps, st.floats(0, THRESHOLD - DEADBAND - 0.01)), min_size=1, max_size=15),
    above=st.lists(st.tuples(gaps, st.floats(THRESHOLD + 0.01, 5000)), min_size=1, max_size=15),
    for_s=st.integers(0, 120),
)
async def test_a_signal_that_crosses_once_raises_once(below: list[tuple[int, float]], above: list[tuple[int, float]],
                                                      for_s: int) -> None:
    rules = RULE.format(threshold=THRESHOLD, deadband=DEADBAND, for_s=for_s, clear_for_s=0)
    async with Harness(rules, [device("CG-1")]) as h:
        for gap, value in below + above:
            await h.advance(gap)
            await h.feed("CG-1", "water_level_mm", value)
        await h.advance(for_s)  # the level has held long enough now
        assert h.events() == [("raised", "CG-1", "yellow")]


@SETTINGS
@given(
    noise=st.lists(st.tuples(gaps, st.floats(-DEADBAND + 0.01, DEADBAND)), min_size=1, max_size=40),
    for_s=st.sampled_from([0, 30]),
    clear_for_s=st.sampled_from([0, 300]),
)
async def test_noise_inside_the_deadband_never_flaps(noise: list[tuple[int, float]], for_s: int,
                                                     clear_for_s: int) -> None:
    rules = RULE.format(threshold=THRESHOLD, deadband=DEADBAND, for_s=for_s, clear_for_s=clear_for_s)
    async with Harness(rules, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", THRESHOLD + 5)
        await h.advance(for_s)
        await h.feed("CG-1", "water_level_mm", THRESHOLD + 5)
        for gap, delta in noise:
            await h.advance(gap)
            await h.feed("CG-1", "water_level_mm", THRESHOLD + delta)
        await h.advance(clear_for_s + 1)
        assert h.events() == [("raised", "CG-1", "yellow")]


def in_effect(history: list[tuple[float, int]], since: float) -> list[int]:
    """The raw ranks in effect from ``since`` on: the one observed last at or before it, and all after."""
    before = [r for ts, r in history if ts <= since]
    return before[-1:] + [r for ts, r in history if ts > since]


@settings(max_examples=300, deadline=None)
@given(
    # whole seconds: the property is about order in time, not about float rounding
    steps=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 4)), min_size=1, max_size=60),
    raise_after=st.integers(0, 60), clear_after=st.integers(0, 300),
)
def test_the_settled_level_only_follows_what_lasted(steps: list[tuple[int, int]], raise_after: int,
                                                    clear_after: int) -> None:
    d = Debouncer(levels=4, raise_after_s=raise_after, clear_after_s=clear_after)
    t = 0.0
    history: list[tuple[float, int]] = [(0.0, 0)]
    for gap, raw in steps:
        t += gap
        d.observe(raw, t)
        history.append((t, raw))
        before = d.level
        after = d.settle(t)
        if after > before:  # raw was ≥ after for the last raise_after seconds
            assert all(r >= after for r in in_effect(history, t - raise_after))
        elif after < before:  # raw was ≤ after for the last clear_after seconds
            assert all(r <= after for r in in_effect(history, t - clear_after))
        if raise_after == 0 and clear_after == 0:
            assert after == raw
