"""The culvert gauge's sensor: noise, blanking, battery, stuck sensor, dropouts."""

from __future__ import annotations

import statistics

import pytest

from simulators.faults import FaultWindow
from simulators.gauge import GaugeFault, GaugeModel, GaugeSpec
from simulators.rain import CulvertLevel, CulvertResponse, Rainfall
from simulators.scenario import DEMO_CULVERT

STORM = Rainfall.parse("30s+120s@80mm/h")


def gauge(faults: dict[GaugeFault, FaultWindow] | None = None, *, seed: int = 1, rain: Rainfall = STORM,
          response: CulvertResponse = DEMO_CULVERT, **spec: float) -> GaugeModel:
    return GaugeModel(CulvertLevel(rain, response), GaugeSpec(**spec), seed=seed, device_id="CG-001", faults=faults)


def test_reports_the_true_level_with_noise_in_whole_millimetres() -> None:
    g = gauge()
    samples = [g.sample(float(t)) for t in range(0, 30)]
    levels = [s.water_level_mm for s in samples if s is not None]
    assert len(levels) == 30
    assert all(level == int(level) for level in levels)
    assert statistics.mean(levels) == pytest.approx(40, abs=2)
    assert 0.5 < statistics.pstdev(levels) < 5  # noisy, not wild
    for s in samples:
        assert s is not None and s.water_level_mm + s.distance_mm == 2500


def test_level_follows_the_storm() -> None:
    g = gauge()
    peak = g.sample(150.0)
    assert peak is not None and peak.water_level_mm > 800
    assert peak.water_level_mm == pytest.approx(g.true_level_mm(150.0), abs=40)


def test_water_close_to_the_sensor_reads_as_the_blanking_distance() -> None:
    flood = CulvertResponse(base_level_mm=2450, max_level_mm=5000)
    s = gauge(rain=Rainfall(), response=flood, blanking_mm=150).sample(10.0)
    assert s is not None and s.distance_mm == 150 and s.water_level_mm == 2350


def test_stuck_sensor_repeats_one_reading_while_the_water_rises() -> None:
    g = gauge({GaugeFault.stuck_sensor: FaultWindow(20.0, 200.0)})
    stuck = [g.sample(float(t)) for t in range(20, 200, 10)]
    assert len({s.water_level_mm for s in stuck if s is not None}) == 1
    assert g.true_level_mm(150.0) > 800  # the culvert floods regardless
    after = g.sample(205.0)
    assert after is not None and after.water_level_mm > 300


def test_dropout_is_silence_for_its_window() -> None:
    g = gauge({GaugeFault.dropout: FaultWindow(60.0, 90.0)})
    assert g.sample(59.0) is not None
    assert g.sample(60.0) is None and g.sample(89.9) is None and g.silent(75.0)
    assert g.sample(90.0) is not None


def test_battery_drains_slowly_and_a_failing_cell_browns_out() -> None:
    healthy = gauge(battery_start_v=3.9)
    assert healthy.battery_v(0) - healthy.battery_v(30 * 86_400) == pytest.approx(0.06)
    failing = gauge({GaugeFault.low_battery: FaultWindow(0.0)}, battery_start_v=3.9)
    assert failing.battery_v(1800) == pytest.approx(3.6, abs=0.01)
    brownout_s = (3.9 - 3.1) / 0.6 * 3600
    assert failing.sample(brownout_s - 60) is not None
    assert failing.sample(brownout_s + 60) is None


def test_same_seed_same_readings_other_seed_other_noise() -> None:
    a = [gauge(seed=7).sample(float(t)) for t in range(50)]
    b = [gauge(seed=7).sample(float(t)) for t in range(50)]
    c = [gauge(seed=8).sample(float(t)) for t in range(50)]
    assert a == b
    assert a != c
