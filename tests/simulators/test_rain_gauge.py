"""Design storms and the tipping-bucket rain gauge, and the rain gauge profiles reading it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from device_drivers.modbus.driver import read_device
from device_drivers.mqtt import parse_telemetry
from device_registry.profile import shipped_profiles
from simulators.design_storm import BEIJING, chicago_storm
from simulators.faults import FaultWindow
from simulators.rain import Rainfall
from simulators.rain_gauge import RainGaugeFault, RainGaugeModel, RainGaugeSpec
from tests.device_drivers.modbus_setup import served

PROFILES = shipped_profiles()


@pytest.mark.parametrize("years", [1, 5, 20])
@pytest.mark.parametrize("minutes", [10, 30, 60, 120])
def test_every_window_around_the_peak_holds_what_the_formula_gives(years: int, minutes: int) -> None:
    storm = chicago_storm(start_s=0, duration_s=7200, return_period_years=years)
    heaviest = max(storm.depth_mm(t, t + minutes * 60) for t in range(0, 7200 - minutes * 60 + 1, 60))
    assert heaviest == pytest.approx(BEIJING.intensity_mm_min(minutes, years) * minutes, rel=0.01)


def test_a_storm_rises_to_its_peak_at_forty_percent_and_falls() -> None:
    storm = chicago_storm(start_s=600, duration_s=3600, return_period_years=5)
    by_minute = [storm.intensity_mm_h(600 + m * 60 + 30) for m in range(60)]
    assert by_minute.index(max(by_minute)) == 24
    assert by_minute[:24] == sorted(by_minute[:24]) and by_minute[24:] == sorted(by_minute[24:], reverse=True)
    assert storm.intensity_mm_h(599) == storm.intensity_mm_h(4200) == 0.0
    with pytest.raises(ValueError, match="return period is at least 1 year"):
        chicago_storm(start_s=0, duration_s=600, return_period_years=0.5)


def test_the_tips_add_up_to_the_storm_less_undercatch() -> None:
    storm = chicago_storm(start_s=300, duration_s=7200, return_period_years=5)
    depth = storm.depth_mm(0, 9000)
    exact = RainGaugeModel(storm, RainGaugeSpec(catch=1.0, undercatch_per_mm_h=0.0), device_id="RG-1", seed=1)
    tips = sum(exact.sample(t).tips for t in range(60, 9001, 60))
    assert depth - 0.2 < tips * 0.2 <= depth  # whole tips: what is left in the bucket is under one
    assert exact.sample(9000).tips_total == tips
    real = RainGaugeModel(storm, RainGaugeSpec(catch=1.0), device_id="RG-1", seed=1)
    caught = sum(real.sample(t).tips for t in range(60, 9001, 60)) * 0.2
    assert 0.9 * depth < caught < 0.99 * depth  # heavy rain is undercaught by a few per cent
    # Each gauge of a district catches its own share of the storm cell, the same each run.
    shares = [RainGaugeModel(storm, RainGaugeSpec(), device_id=f"RG-{i}", seed=3).catch for i in range(20)]
    assert min(shares) >= 0.85 and max(shares) <= 1.15 and len(set(shares)) == 20
    assert shares == [RainGaugeModel(storm, RainGaugeSpec(), device_id=f"RG-{i}", seed=3).catch for i in range(20)]


def test_a_report_depends_on_the_time_asked_only() -> None:
    storm = chicago_storm(start_s=0, duration_s=3600, return_period_years=2)
    forward = RainGaugeModel(storm, RainGaugeSpec(), device_id="RG-1", seed=1)
    first = [forward.sample(t) for t in range(0, 3700, 37)]
    jumping = RainGaugeModel(storm, RainGaugeSpec(), device_id="RG-1", seed=1)
    assert jumping.sample(3663) == first[-1]
    assert [jumping.sample(t) for t in range(0, 3700, 37)] == first
    light = RainGaugeModel(Rainfall.parse("0s+1h@2mm/h"), RainGaugeSpec(catch=1.0), device_id="RG-2", seed=1)
    assert sorted({light.sample(t).tips for t in range(60, 3601, 60)}) == [0, 1]  # a tip every six minutes


def test_a_clogged_funnel_counts_nothing_while_it_lasts() -> None:
    rain = Rainfall.parse("0s+2h@30mm/h")
    faults = {RainGaugeFault.clogged: FaultWindow(1800, 3600)}
    gauge = RainGaugeModel(rain, RainGaugeSpec(catch=1.0), device_id="RG-1", seed=1, faults=faults)
    assert all(gauge.sample(t).tips == 0 for t in range(1860, 3601, 60))
    assert all(gauge.sample(t).tips >= 2 for t in range(3660, 7201, 60))


def test_the_mqtt_profile_turns_mm_per_interval_into_mm_per_hour() -> None:
    gauge = RainGaugeModel(Rainfall.parse("0s+1h@30mm/h"), RainGaugeSpec(catch=1.0), device_id="RG-1", seed=1)
    at = datetime(2026, 7, 1, tzinfo=UTC)
    payload = json.dumps({"ts": at.isoformat(), **gauge.telemetry(1200)}).encode()
    result = parse_telemetry("RG-1", payload, PROFILES["sw-rain-gauge-mqtt"], at)
    assert result.rejections == []
    values = {r.metric: r.value for r in result.readings}
    sample = gauge.sample(1200)
    assert values["rain_mm"] == sample.rain_mm
    assert values["rain_intensity_mm_h"] == pytest.approx(sample.intensity_mm_h)
    assert values["rain_intensity_mm_h"] in (pytest.approx(24.0), pytest.approx(36.0))  # 2 or 3 tips a minute


@pytest.mark.services
async def test_the_modbus_profile_reads_the_gauge_over_a_socket() -> None:
    profile = PROFILES["sw-rain-gauge-modbus"]
    gauge = RainGaugeModel(chicago_storm(start_s=0, duration_s=3600, return_period_years=5),
                           RainGaugeSpec(catch=1.0), device_id="RG-1", seed=1)
    async with served("tcp", {1: profile}) as (server, bus):
        for t in (600.0, 1440.0, 3000.0):
            for metric, value in gauge.registers(t).items():
                server.set_value(1, metric, value)
            sample = (await read_device(bus, 1, profile)).values
            expected = gauge.sample(t)
            assert sample["tips"] == expected.tips and sample["tips_total"] == expected.tips_total
            assert sample["rain_mm"] == pytest.approx(expected.rain_mm)
            assert sample["rain_intensity_mm_h"] == pytest.approx(expected.intensity_mm_h)
    assert gauge.sample(1440).intensity_mm_h > 100  # the peak minute of a 5-year storm
