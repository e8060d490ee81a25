"""The river probe: daily cycles, rain runoff and pollution events."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from simulators.faults import FaultWindow
from simulators.rain import Rainfall
from simulators.water_quality import (
    PollutionEvent,
    ProbeSite,
    WaterQualityModel,
    WaterQualitySample,
    pulse,
)
from streetwatch.oxygen import oxygen_saturation_mg_l

MIDNIGHT_LOCAL = datetime(2026, 6, 30, 16, tzinfo=UTC)  # 00:00 in Guangzhou
HOUR = 3600.0


def model(**kwargs: object) -> WaterQualityModel:
    return WaterQualityModel(ProbeSite(), 1, "WQ-001", MIDNIGHT_LOCAL, **kwargs)  # type: ignore[arg-type]


def mean_at(m: WaterQualityModel, hour: float, metric: str) -> float:
    samples: list[WaterQualitySample] = [m.sample(hour * HOUR + s) for s in range(0, 600, 30)]
    return statistics.mean(getattr(s, metric) for s in samples)


@pytest.mark.parametrize(("celsius", "mg_l"), [(0, 14.65), (20, 9.09), (25, 8.26), (30, 7.56)])
def test_oxygen_saturation(celsius: float, mg_l: float) -> None:
    assert oxygen_saturation_mg_l(celsius) == pytest.approx(mg_l, abs=0.05)


def test_daily_cycles_afternoon_against_dawn() -> None:
    m = model()
    for metric in ("temperature_c", "dissolved_oxygen_mg_l", "ph"):
        assert mean_at(m, 15, metric) > mean_at(m, 4, metric), metric
    assert mean_at(m, 15, "temperature_c") - mean_at(m, 3, "temperature_c") == pytest.approx(2.9, abs=0.3)


def test_values_stay_in_the_profiles_plausible_ranges() -> None:
    m = model(pollution=[PollutionEvent(FaultWindow(HOUR, 3 * HOUR))], rainfall=Rainfall.parse("2h+1h@60mm/h"))
    for i in range(0, 48):
        s = m.sample(i * 1800.0)
        assert 0 <= s.ph <= 14 and 0 <= s.dissolved_oxygen_mg_l <= 20 and 0 <= s.turbidity_ntu <= 4000
        assert 0 <= s.conductivity_us_cm <= 100_000 and -5 <= s.temperature_c <= 45
        assert 0 <= s.ammonia_nitrogen_mg_l <= 100
        assert 0 <= s.permanganate_index_mg_l <= 100 and 0 <= s.total_phosphorus_mg_l <= 20


def test_pollution_raises_ammonia_and_turbidity_and_takes_oxygen_then_passes() -> None:
    window = FaultWindow(2 * HOUR, 4 * HOUR)
    clean, dirty = model(), model(pollution=[PollutionEvent(window)])
    peak_h = 2 + 2 / 5  # a fifth of the duration in
    assert mean_at(dirty, peak_h, "ammonia_nitrogen_mg_l") > mean_at(clean, peak_h, "ammonia_nitrogen_mg_l") + 5
    assert mean_at(dirty, peak_h, "turbidity_ntu") > mean_at(clean, peak_h, "turbidity_ntu") + 100
    assert mean_at(dirty, peak_h, "dissolved_oxygen_mg_l") < 0.5 * mean_at(clean, peak_h, "dissolved_oxygen_mg_l")
    assert mean_at(dirty, 1.8, "ammonia_nitrogen_mg_l") == pytest.approx(
        mean_at(clean, 1.8, "ammonia_nitrogen_mg_l"), abs=0.05)
    assert mean_at(dirty, 7, "ammonia_nitrogen_mg_l") == pytest.approx(
        mean_at(clean, 7, "ammonia_nitrogen_mg_l"), abs=0.2)


def test_pulse_shape() -> None:
    window = FaultWindow(100.0, 600.0)
    assert pulse(100.0, window) == 0
    assert pulse(200.0, window) == pytest.approx(1.0)
    assert pulse(600.0, window) == pytest.approx(5 * 2.718281828 ** -4, rel=1e-6)


def test_rain_muddies_and_dilutes_the_river() -> None:
    dry, wet = model(), model(rainfall=Rainfall.parse("1h+1h@50mm/h"))
    assert mean_at(wet, 2.5, "turbidity_ntu") > mean_at(dry, 2.5, "turbidity_ntu") + 50
    assert mean_at(wet, 2.5, "conductivity_us_cm") < mean_at(dry, 2.5, "conductivity_us_cm") * 0.85


def test_rain_runoff_carries_permanganate_and_phosphorus_with_the_sediment() -> None:
    dry, wet = model(), model(rainfall=Rainfall.parse("1h+1h@50mm/h"))
    # Dry weather: class II of GB 3838-2002 for both (permanganate ≤ 4, total phosphorus ≤ 0.1 … 0.2).
    assert mean_at(dry, 2.5, "permanganate_index_mg_l") == pytest.approx(3.5, abs=0.1)
    assert mean_at(dry, 2.5, "total_phosphorus_mg_l") == pytest.approx(0.12, abs=0.01)
    assert mean_at(wet, 2.5, "permanganate_index_mg_l") > 6.0  # class IV in the storm
    assert mean_at(wet, 2.5, "total_phosphorus_mg_l") > 0.3  # class V
    samples = [wet.sample(t) for t in range(0, 8 * 3600, 300)]
    turbidity = [x.turbidity_ntu for x in samples]
    for metric in ("permanganate_index_mg_l", "total_phosphorus_mg_l"):
        assert statistics.correlation(turbidity, [getattr(x, metric) for x in samples]) > 0.9, metric


def test_a_sewage_overflow_raises_permanganate_and_phosphorus() -> None:
    window = FaultWindow(2 * HOUR, 4 * HOUR)
    clean, dirty = model(), model(pollution=[PollutionEvent(window)])
    peak_h = 2 + 2 / 5
    assert mean_at(dirty, peak_h, "permanganate_index_mg_l") > mean_at(clean, peak_h, "permanganate_index_mg_l") + 7
    assert mean_at(dirty, peak_h, "total_phosphorus_mg_l") > mean_at(clean, peak_h, "total_phosphorus_mg_l") + 0.5
