"""Trustworthy readings: each injected fault is flagged and kept from the flood rules; clean gauges never are."""

from __future__ import annotations

import pytest

from rules.loader import parse_ruleset
from rules.quality import QualityChecker
from rules.spec import QualityRule
from simulators.faults import FaultWindow
from simulators.gauge import GaugeFault, GaugeModel, GaugeSpec
from simulators.rain import CulvertLevel, CulvertResponse, Rainfall
from simulators.seeding import rng_for
from tests.rules.support import Harness, device

HOUR = 3600.0
DAY = 24 * HOUR
QUALITY = """
  - name: gauge-quality
    kind: quality
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    severity: yellow
    spike: 150
    max_rise_per_min: 300
    stuck_for: 30m
    stuck_samples: 10
    floor: -30
    ceiling: 2350
    battery_min: 3.4
    signal_min: 15
    hold: 10m
"""
FLOOD = """
  - name: culvert-level
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {yellow: 300, orange: 500, red: 800}
"""
RULES = "rules:" + QUALITY + FLOOD


def rule() -> QualityRule:
    spec = parse_ruleset(RULES).get("gauge-quality")
    assert isinstance(spec, QualityRule)
    return spec


def checker() -> QualityChecker:
    return QualityChecker(rule(), floor=-30.0, ceiling=2350.0)


# A week of weather over the city: showers, a day of steady rain and a short cloudburst at 100 mm/h.
WEEK = "5h+1h@20mm/h,30h+3h@40mm/h:triangle,60h+12h@8mm/h,98h+40m@100mm/h,140h+2h@60mm/h:triangle"


def gauge(index: int, faults: dict[GaugeFault, FaultWindow] | None = None, rain: str = WEEK) -> GaugeModel:
    rng = rng_for(1, f"CG-{index:03d}", "culvert")
    response = CulvertResponse(base_level_mm=rng.uniform(20, 80), gain_mm_per_mm_h=rng.uniform(6, 14),
                               lag_s=rng.uniform(300, 900), drain_s=rng.uniform(900, 2400))
    return GaugeModel(CulvertLevel(Rainfall.parse(rain), response), GaugeSpec(), seed=1,
                      device_id=f"CG-{index:03d}", faults=faults)


def run(model: GaugeModel, check: QualityChecker, until_s: float, every_s: float) -> dict[float, tuple[str, ...]]:
    """Feed the gauge's readings (level, battery, signal) to the checker; the flagged level readings by time."""
    flagged: dict[float, tuple[str, ...]] = {}
    t = 0.0
    while t < until_s:
        sample = model.sample(t)
        if sample is not None:
            check.supply("battery_v", sample.battery_v)
            check.supply("signal_quality_pct", sample.signal_quality_pct)
            flags = check.check(t, sample.water_level_mm)
            if flags:
                flagged[t] = flags
        t += every_s
    return flagged


def test_a_hundred_clean_gauges_over_seven_days_raise_no_fault() -> None:
    readings = 0
    for index in range(100):
        flagged = run(gauge(index), checker(), 7 * DAY, 120.0)  # a reading every 2 minutes
        assert flagged == {}, f"CG-{index:03d}: {list(flagged.items())[:3]}"
        readings += int(7 * DAY / 120)
    assert readings == 504_000


def test_a_stuck_sensor_is_flagged_after_thirty_minutes_and_until_it_moves() -> None:
    window = FaultWindow(2 * HOUR, 4 * HOUR)
    flagged = run(gauge(3, {GaugeFault.stuck_sensor: window}), checker(), 6 * HOUR, 60.0)
    assert set(flagged.values()) == {("stuck",)}
    times = sorted(flagged)
    assert times[0] == 2 * HOUR + 30 * 60  # 31 identical readings spanning 30 minutes
    assert times[-1] == 4 * HOUR - 60  # the last stuck reading; the next one moves
    assert len(times) == 90


def test_a_full_culvert_at_the_top_of_the_range_is_not_stuck() -> None:
    flagged = run(gauge(4, rain="1h+3h@300mm/h"), checker(), 6 * HOUR, 60.0)
    assert flagged == {}


def test_a_failing_battery_flags_readings_until_the_gauge_browns_out() -> None:
    window = FaultWindow(HOUR, 11 * HOUR)
    flagged = run(gauge(5, {GaugeFault.low_battery: window}), checker(), 3 * HOUR, 60.0)
    first = min(flagged)
    # 3.95 V draining 0.6 V/h from the first hour: under 3.4 V after about 55 minutes.
    assert first == pytest.approx(HOUR + 55 * 60, abs=120)
    assert set(flagged.values()) == {("low_battery",)}
    assert max(flagged) < HOUR + 85 * 60  # under 3.1 V the radio is silent


def test_spikes_blips_gradients_floor_and_signal() -> None:
    check = checker()

    def calm(start_s: float, count: int) -> None:
        for i in range(count):
            assert check.check(start_s + 30.0 * i, 40.0 + i % 3) == (), start_s + 30.0 * i

    calm(0.0, 10)
    assert check.check(300.0, 700.0) == ("spike", "gradient")  # a blip: 660 mm in 30 s
    calm(330.0, 5)  # straight back: nothing wrong with these
    assert check.check(480.0, -40.0) == ("below_floor",)  # 80 mm under: no spike, but under the floor
    calm(510.0, 5)
    assert check.check(660.0, -200.0) == ("spike", "gradient", "below_floor")
    calm(690.0, 5)
    assert check.supply("signal_quality_pct", 9.0) == "low_signal"
    assert check.check(840.0, 42.0) == ("low_signal",)
    assert check.supply("signal_quality_pct", 60.0) is None
    calm(870.0, 5)


def test_a_real_step_is_accepted_once_it_lasts() -> None:
    check = checker()
    for i in range(6):
        assert check.check(i * 60.0, 40.0 + i % 2) == ()
    # The gauge is lowered 400 mm on its bracket: 400 mm at once is a spike and too fast...
    assert check.check(360.0, 441.0) == ("spike", "gradient")
    assert check.check(420.0, 440.0) == ("spike",)  # 400 mm over 2 minutes is physically possible
    assert check.check(480.0, 441.0) == ("spike",)
    # ...from the fourth reading on, most of the recent ones agree: it is where the water is.
    assert check.check(540.0, 440.0) == ()
    assert check.check(600.0, 441.0) == ()


async def test_a_spike_raises_a_device_fault_not_a_flood_alert_and_clears_after_hold() -> None:
    async with Harness(RULES, [device("CG-1")]) as h:
        for _ in range(10):
            await h.feed("CG-1", "water_level_mm", 40.0)
            await h.advance(30)
        await h.feed("CG-1", "water_level_mm", 950.0)  # a radar echo: past red
        assert h.events() == [("raised", "CG-1", "yellow")]
        fault = h.sink.transitions[0]
        assert fault.rule == "gauge-quality"
        assert fault.message.startswith("device fault: water_level_mm 950 flagged spike, gradient")
        for _ in range(25):  # 12.5 minutes of good readings: the fault clears after its 10-minute hold
            await h.advance(30)
            await h.feed("CG-1", "water_level_mm", 41.0)
        assert h.events() == [("raised", "CG-1", "yellow"), ("cleared", "CG-1", "yellow")]
        assert h.sink.transitions[-1].message == "water_level_mm readings trustworthy again"


async def test_a_real_flood_still_raises_its_alert() -> None:
    async with Harness(RULES, [device("CG-1")]) as h:
        level = 40.0
        for _ in range(60):  # 60 mm a minute: fast, smooth, real
            await h.feed("CG-1", "water_level_mm", level)
            await h.advance(30)
            level += 30.0
        rules = [(t.rule, t.severity) for t in h.sink.transitions]
        assert rules == [("culvert-level", "yellow"), ("culvert-level", "orange"), ("culvert-level", "red")]


async def test_flagged_readings_of_a_low_battery_gauge_stay_out_unless_kept() -> None:
    async with Harness(RULES, [device("CG-1")]) as h:
        await h.feed("CG-1", "battery_v", 3.2)
        await h.feed("CG-1", "water_level_mm", 900.0)
        assert [(t.rule, t.severity) for t in h.sink.transitions] == [("gauge-quality", "yellow")]
    keeping = "rules:" + QUALITY + "    keep: [low_battery]\n" + FLOOD
    async with Harness(keeping, [device("CG-1")]) as h:
        await h.feed("CG-1", "battery_v", 3.2)
        await h.feed("CG-1", "water_level_mm", 900.0)
        assert sorted((t.rule, t.severity) for t in h.sink.transitions) == [
            ("culvert-level", "red"), ("gauge-quality", "yellow")]


def test_a_quality_rule_needs_a_check() -> None:
    from rules.errors import RuleFileError

    bare = "rules:\n  - name: q\n    kind: quality\n    metric: water_level_mm\n    severity: yellow\n"
    with pytest.raises(RuleFileError) as caught:
        parse_ruleset(bare, source="q.yaml")
    assert caught.value.problems == [
        "q.yaml:2: rules[0]: give at least one check: spike, max_rise_per_min, stuck_for, floor, battery_min "
        "or signal_min"]


@pytest.mark.parametrize(("fault", "flag"), [
    (GaugeFault.echo_spikes, "spike"),
    (GaugeFault.below_floor, "below_floor"),
    (GaugeFault.weak_signal, "low_signal"),
])
def test_each_fault_the_simulator_injects_is_flagged_only_while_it_lasts(fault: GaugeFault, flag: str) -> None:
    window = FaultWindow(2 * HOUR, 4 * HOUR)
    flagged = run(gauge(6, {fault: window}), checker(), 6 * HOUR, 60.0)
    assert flagged, fault
    assert all(flag in flags for flags in flagged.values()), set(flagged.values())
    assert all(window.start_s <= t < window.end_s for t in flagged), fault
    if fault is not GaugeFault.echo_spikes:  # echoes come now and then; the others every reading
        assert len(flagged) == 120
    else:
        assert 3 <= len(flagged) <= 15  # 5 % of 120 readings
