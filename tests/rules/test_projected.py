"""Time to a level: the robust fit on noisy synthetic rises, spikes, and the ``projected`` rule in the engine."""

from __future__ import annotations

import math
import random

import pytest

from rules.errors import RuleFileError
from rules.loader import parse_ruleset
from rules.projection import FitWindow, theil_sen
from tests.rules.support import Harness, device

LEVEL_MM = 800.0


def noisy_rise(rate_mm_min: float, seed: int, *, start_mm: float = 300.0, every_s: float = 10.0,
               minutes: float = 5.0) -> list[tuple[float, float]]:
    """A gauge's rise as the simulator's sensor reads it: σ 2 mm plus 0.4 % of the level, whole mm."""
    rng = random.Random(seed)
    out = []
    for i in range(int(minutes * 60 / every_s) + 1):
        t = i * every_s
        true = start_mm + rate_mm_min * t / 60
        out.append((t, round(true + rng.gauss(0.0, 2.0 + 0.004 * true))))
    return out


def truth_eta_s(rate_mm_min: float, series: list[tuple[float, float]], start_mm: float = 300.0) -> float:
    now_true = start_mm + rate_mm_min * series[-1][0] / 60
    return (LEVEL_MM - now_true) / rate_mm_min * 60


def projection_of(series: list[tuple[float, float]]) -> tuple[float, float, float]:
    window = FitWindow(600.0)
    for t, v in series:
        window.add(t, v)
    fit = window.fit()
    assert fit is not None
    p = fit.projection(LEVEL_MM)
    assert p is not None
    return p.eta_s, p.earliest_s, p.latest_s


# (rate, reading interval, minutes of rise): a flash flood's 20–80 mm/min read every 10 s (a gauge reports
# faster while the water rises) after 5 minutes; every 30 s from 40 mm/min; a slow 10 mm/min after 10 minutes.
# Slower rises or sparser readings than these carry more noise than 10 % (the interval says how much).
ACCURATE = [(20.0, 10.0, 5.0), (30.0, 10.0, 5.0), (40.0, 10.0, 5.0), (80.0, 10.0, 5.0), (40.0, 30.0, 5.0),
            (10.0, 10.0, 10.0), (10.0, 30.0, 10.0), (20.0, 30.0, 10.0)]


@pytest.mark.parametrize(("rate_mm_min", "every_s", "minutes"), ACCURATE)
def test_once_the_rise_has_lasted_the_projection_is_within_ten_percent(rate_mm_min: float, every_s: float,
                                                                      minutes: float) -> None:
    misses = []
    for seed in range(100):
        series = noisy_rise(rate_mm_min, seed, every_s=every_s, minutes=minutes, start_mm=200.0)
        eta, earliest, latest = projection_of(series)
        truth = truth_eta_s(rate_mm_min, series, start_mm=200.0)
        if abs(eta - truth) > 0.10 * truth:
            misses.append((seed, eta, truth))
        assert earliest <= eta <= latest
    assert misses == []


def test_the_interval_holds_the_truth_about_95_times_in_100() -> None:
    held = 0
    for seed in range(200):
        series = noisy_rise(10.0, seed, every_s=30.0)
        _, earliest, latest = projection_of(series)
        held += earliest <= truth_eta_s(10.0, series) <= latest
    assert 180 <= held <= 200


@pytest.mark.parametrize("where", [0, 7, 15, 30])
@pytest.mark.parametrize("spike_mm", [400.0, -250.0])
def test_a_single_spike_changes_nothing(where: int, spike_mm: float) -> None:
    clean = noisy_rise(20.0, 3)
    spiked = list(clean)
    spiked[where] = (spiked[where][0], spiked[where][1] + spike_mm)
    eta_clean, _, _ = projection_of(clean)
    eta_spiked, _, _ = projection_of(spiked)
    assert eta_spiked == pytest.approx(eta_clean, rel=0.02)


def test_the_newest_reading_a_spike_does_not_move_the_level_now() -> None:
    series = noisy_rise(20.0, 5)
    series[-1] = (series[-1][0], 790.0)  # a blip just under the level
    eta, _, _ = projection_of(series)
    assert eta == pytest.approx(truth_eta_s(20.0, series), rel=0.1)


def test_theil_sen_ignores_wild_points() -> None:
    times = [float(t) for t in range(20)]
    values = [2.0 * t + 1.0 for t in times]
    values[3], values[11], values[17] = 500.0, -300.0, 1e6
    slope, intercept, low, high = theil_sen(times, values)
    assert (slope, intercept) == (2.0, 1.0)
    assert low <= 2.0 <= high


def test_a_flat_or_falling_series_is_never_projected() -> None:
    window = FitWindow(600.0)
    for t in range(0, 600, 10):
        window.add(float(t), 500.0 - t * 0.05)
    fit = window.fit()
    assert fit is not None
    p = fit.projection(LEVEL_MM)
    assert p is not None and math.isinf(p.eta_s) and math.isinf(p.latest_s)


RULES = """
rules:
  - name: underpass-projected
    kind: projected
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {yellow: 300, orange: 500, red: 800}
    within: 15m
    window: 10m
    min_span: 5m
"""


async def test_the_rule_raises_red_before_the_level_with_the_projection_in_the_message() -> None:
    async with Harness(RULES, [device("CG-1")]) as h:
        rng = random.Random(7)
        level = 550.0
        for _ in range(31):  # 5 minutes every 10 s at 20 mm/min: at 650 mm, red (800) in about 7.5 minutes
            await h.feed("CG-1", "water_level_mm", round(level + rng.gauss(0.0, 4.0)))
            await h.advance(10)
            level += 20.0 / 6
        assert h.events() == [("raised", "CG-1", "red")]
        alert = h.sink.transitions[0]
        assert alert.threshold == 800.0
        assert alert.value is not None and alert.value < 800.0  # raised before the level itself
        assert "rising" in alert.message and "red level 800 in about" in alert.message
        minutes = float(alert.message.split("in about ")[1].split(" min")[0])
        assert minutes == pytest.approx((800.0 - 650.0) / 20.0, rel=0.1)
        assert alert.context["eta_s"] == pytest.approx(minutes * 60, abs=6)
        assert alert.context["earliest_s"] <= alert.context["eta_s"] <= alert.context["latest_s"]


async def test_a_calm_gauge_with_a_spike_raises_nothing() -> None:
    async with Harness(RULES, [device("CG-1")]) as h:
        rng = random.Random(8)
        for i in range(120):
            value = 200.0 + rng.gauss(0.0, 3.0) + (550.0 if i == 60 else 0.0)
            await h.feed("CG-1", "water_level_mm", round(value))
            await h.advance(10)
        assert h.events() == []


async def test_the_projection_lets_go_when_the_rise_stops() -> None:
    rules = RULES.replace("min_span: 5m", "min_span: 2m")
    async with Harness(rules, [device("CG-1")]) as h:
        level = 600.0
        for _ in range(18):  # 3 minutes at 30 mm/min: red in under 7 minutes
            await h.feed("CG-1", "water_level_mm", level)
            await h.advance(10)
            level += 5.0
        assert h.events() == [("raised", "CG-1", "red")]
        for _ in range(60):  # the rain stops: the level holds, then falls
            await h.feed("CG-1", "water_level_mm", level)
            await h.advance(10)
            level -= 1.0
        assert h.events() == [("raised", "CG-1", "red"), ("cleared", "CG-1", "red")]
        assert "no level projected within 15.0 min" in h.sink.transitions[-1].message


def test_a_projected_rule_is_validated_with_file_and_line() -> None:
    text = RULES.replace("within: 15m", "within: soon").replace("min_span: 5m", "min_span: 20m")
    with pytest.raises(RuleFileError) as caught:
        parse_ruleset(text, source="flood.yaml")
    assert caught.value.problems == [
        "flood.yaml:8: rules[0].within: cannot read duration 'soon'; write e.g. 30s, 5m, 1h30m",
    ]
    text = RULES.replace("min_span: 5m", "min_span: 20m").replace("red: 800", "red: 400")
    with pytest.raises(RuleFileError) as caught:
        parse_ruleset(text, source="flood.yaml")
    assert caught.value.problems == [
        "flood.yaml:7: rules[0].levels.red: 400 must be above the orange level 500 (direction: above)",
        "flood.yaml:10: rules[0].min_span: must not be longer than the window",
    ]
