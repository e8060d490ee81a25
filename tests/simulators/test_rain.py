"""The rain model: intensity profiles, and the culvert's level response (lag, drainage, mass balance)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.rain import CulvertLevel, CulvertResponse, RainEvent, Rainfall, RainShape, levels, parse_duration_s
from simulators.scenario import DEMO_CULVERT


@pytest.mark.parametrize(("text", "expected"), [
    ("30s+120s@80mm/h", [RainEvent(30, 120, 80)]),
    ("2m+1h@12.5", [RainEvent(120, 3600, 12.5)]),
    ("0+90s@40mm/h:triangle", [RainEvent(0, 90, 40, RainShape.triangle)]),
    ("10m+5m@20mm/h, 30s+120s@80mm/h", [RainEvent(30, 120, 80), RainEvent(600, 300, 20)]),
    ("", []),
])
def test_parse(text: str, expected: list[RainEvent]) -> None:
    assert list(Rainfall.parse(text).events) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("30s@80mm/h", "expected START+DURATION@INTENSITY"),
    ("30s+0s@80mm/h", "duration must be positive"),
    ("30x+10s@5", "expected START+DURATION@INTENSITY"),
    ("30s+10s@80mm/h:spiral", "expected START+DURATION@INTENSITY"),
])
def test_parse_errors_name_the_event(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        Rainfall.parse(text)
    assert text.split(",", maxsplit=1)[0] in str(info.value)


def test_durations() -> None:
    assert [parse_duration_s(t) for t in ("90", "90s", "2m", "1.5h", "250ms")] == [90, 90, 120, 5400, 0.25]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_s("soon")


@pytest.mark.parametrize("shape", list(RainShape))
def test_depth_is_the_integral_of_the_intensity(shape: RainShape) -> None:
    event = RainEvent(100, 600, 60, shape)
    full = 60 * 600 / 3600 * (1.0 if shape is RainShape.block else 0.5)
    assert event.depth_mm(0, 10_000) == pytest.approx(full)
    # Pieces add up to the whole, wherever they are cut.
    cuts = [0, 150, 340, 341, 500, 699.5, 2000]
    assert sum(event.depth_mm(a, b) for a, b in itertools.pairwise(cuts)) == pytest.approx(full)
    # A fine Riemann sum of the intensity agrees.
    riemann = sum(event.intensity_mm_h(100 + (i + 0.5) * 0.5) for i in range(1200)) * 0.5 / 3600
    assert riemann == pytest.approx(full, rel=1e-3)


def test_triangle_peaks_at_forty_percent() -> None:
    event = RainEvent(0, 100, 50, RainShape.triangle)
    assert event.intensity_mm_h(40) == pytest.approx(50)
    assert event.intensity_mm_h(20) == pytest.approx(25)
    assert event.intensity_mm_h(70) == pytest.approx(25)
    assert event.intensity_mm_h(100) == 0


def test_dry_culvert_stays_at_base() -> None:
    response = CulvertResponse(base_level_mm=35)
    assert levels(Rainfall(), response, [0, 10, 1e5, 1e7]) == [35, 35, 35, 35]


def test_steady_rain_settles_at_base_plus_gain_times_intensity() -> None:
    response = CulvertResponse(base_level_mm=40, gain_mm_per_mm_h=12, lag_s=60, drain_s=120)
    culvert = CulvertLevel(Rainfall((RainEvent(0, 36_000, 50),)), response)
    assert culvert.level_mm_at(18_000) == pytest.approx(40 + 12 * 50, rel=1e-6)


def test_lag_delays_the_rise() -> None:
    rain = Rainfall((RainEvent(100, 3600, 60),))
    quick = CulvertLevel(rain, CulvertResponse(lag_s=30, drain_s=60))
    slow = CulvertLevel(rain, CulvertResponse(lag_s=600, drain_s=60))
    assert quick.level_mm_at(100) == slow.level_mm_at(100) == 40
    assert quick.level_mm_at(200) > slow.level_mm_at(200) + 100


def test_mass_balance_every_mm_of_rain_passes_the_culvert() -> None:
    # Linear reservoirs lose nothing: the routed flow integrates to the rain that fell.
    rain = Rainfall((RainEvent(50, 300, 70, RainShape.triangle), RainEvent(500, 60, 20)))
    response = CulvertResponse(base_level_mm=0, gain_mm_per_mm_h=1, lag_s=40, drain_s=90)
    culvert = CulvertLevel(rain, response)
    dt = 0.5
    routed_mm = sum(culvert.pool_mm_h(i * dt) for i in range(int(5000 / dt))) * dt / 3600
    assert routed_mm == pytest.approx(rain.depth_mm(0, 5000), rel=2e-3)


def test_the_answer_does_not_depend_on_how_often_it_is_asked() -> None:
    rain = Rainfall.parse("30s+120s@80mm/h")
    often = CulvertLevel(rain, DEMO_CULVERT)
    for i in range(0, 3001):
        often.level_mm_at(i * 0.1)
    once = CulvertLevel(rain, DEMO_CULVERT)
    assert once.level_mm_at(300) == pytest.approx(often.level_mm_at(300), abs=1e-9)
    # Going back in time starts again and gives the same answer.
    assert often.level_mm_at(100) == pytest.approx(CulvertLevel(rain, DEMO_CULVERT).level_mm_at(100), abs=1e-9)


def test_demo_storm_passes_yellow_orange_red_then_drains() -> None:
    rain = Rainfall.parse("30s+120s@80mm/h")
    culvert = CulvertLevel(rain, DEMO_CULVERT)
    series = [(t, culvert.level_mm_at(t)) for t in range(0, 601)]
    first = {level: next(t for t, mm in series if mm >= level) for level in (300, 500, 800)}
    assert 30 < first[300] < first[500] < first[800] < 150  # in order, while it rains
    peak_t, peak = max(series, key=lambda p: p[1])
    assert 800 < peak < 12 * 80 + 40 and 140 <= peak_t <= 160
    cleared = next(t for t, mm in series if t > peak_t and mm < 300)
    assert cleared < 240  # the yellow level clears within ~90 s of the rain stopping
    assert series[-1][1] == pytest.approx(40, abs=1)


@pytest.mark.timeout(10)  # the bug this guards against was an endless loop
def test_a_dry_step_that_rounds_below_one_still_moves_on() -> None:
    # (t + step - t) / step < 1 in floating point for these: integration must still advance.
    t, step = 625.720304108054, 8.330698679157667
    rain = Rainfall((RainEvent(t + step + 50, 60, 30),))
    culvert = CulvertLevel(rain, CulvertResponse(lag_s=10 * step, drain_s=20 * step))
    culvert._t = t  # the grid point such a run has reached
    assert culvert.level_mm_at(t + step) == pytest.approx(40)
    assert culvert.level_mm_at(t + step + 200) > 40


events = st.builds(
    RainEvent,
    start_s=st.floats(0, 600), duration_s=st.floats(10, 3600), peak_mm_h=st.floats(0.5, 150),
    shape=st.sampled_from(list(RainShape)),
)
responses = st.builds(
    CulvertResponse,
    base_level_mm=st.floats(0, 200), gain_mm_per_mm_h=st.floats(0.5, 30), lag_s=st.floats(5, 1200),
    drain_s=st.floats(5, 2400), max_level_mm=st.just(1e9),
)


@settings(max_examples=60, deadline=None)
@given(events=st.lists(events, min_size=1, max_size=3), response=responses,
       probes=st.lists(st.floats(-100, 20_000), min_size=1, max_size=20))
def test_level_is_never_below_base_nor_negative(events: list[RainEvent], response: CulvertResponse,
                                                 probes: list[float]) -> None:
    culvert = CulvertLevel(Rainfall(tuple(events)), response)
    for t in sorted(probes):
        level = culvert.level_mm_at(t)
        assert level >= 0
        assert level >= response.base_level_mm - 1e-9


@settings(max_examples=60, deadline=None)
@given(event=events, response=responses)
def test_level_rises_after_the_rain_starts_and_returns_near_base(event: RainEvent,
                                                                response: CulvertResponse) -> None:
    culvert = CulvertLevel(Rainfall((event,)), response)
    base = response.base_level_mm
    assert culvert.level_mm_at(event.start_s) == pytest.approx(base)
    during = culvert.level_mm_at(event.start_s + event.duration_s / 2)
    assert during > base
    peak = max(culvert.level_mm_at(event.start_s + event.duration_s * i / 20) for i in range(21))
    long_after = event.end_s + 15 * (response.lag_s + response.drain_s)
    assert culvert.level_mm_at(long_after) == pytest.approx(base, abs=1.0 + 1e-3 * (peak - base))
