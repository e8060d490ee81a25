"""Daily energy from counters: resets, bad samples, midnight, DST; hours on and the saving."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from astral import Observer
from astral import sun as astral_sun
from hypothesis import given, settings
from hypothesis import strategies as st

from control.energy import daily_energy, hours_on, saving
from control.library import ScheduleLibrary

UTC_ZONE = zoneinfo.ZoneInfo("UTC")
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def series(*values: float, step: timedelta = timedelta(hours=1), start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + i * step, v) for i, v in enumerate(values)]


def kwh(result: dict[date, object]) -> dict[date, float]:
    return {d: round(e.kwh, 6) for d, e in result.items()}  # type: ignore[attr-defined]


def test_a_rising_counter_sums_per_day() -> None:
    samples = series(*[100 + 0.1 * i for i in range(49)])  # 100 W for 48 hours
    days = daily_energy(samples, UTC_ZONE)
    assert kwh(days) == {date(2026, 3, 1): 2.4, date(2026, 3, 2): 2.4, date(2026, 3, 3): 0.0}


@pytest.mark.parametrize(("values", "expected_kwh", "resets", "rejected"), [
    ((10.0, 10.1, 0.1, 0.2), 0.3, 1, 0),           # restarted from zero: 0.1 + 0.1 + 0.1
    ((10.0, 10.1, 5000.0, 10.3), 0.3, 0, 1),        # a spike: left out, the series goes on from 10.1
    ((10.0, 10.1, 500.0, 500.1, 500.2), 0.3, 0, 1),  # a swapped meter: the new level becomes the base
    ((10.0, 10.1, 10.1, 10.2), 0.2, 0, 0),          # a lamp that is off adds nothing
    ((10.0, 10.1, 9000.0, 0.05, 0.15), 0.25, 1, 1),  # a spike, then a restart
])
def test_resets_and_bad_samples(values: tuple[float, ...], expected_kwh: float, resets: int, rejected: int) -> None:
    days = daily_energy(series(*values), UTC_ZONE, max_power_w=150)
    (day,) = days.values()
    assert (round(day.kwh, 6), day.resets, day.rejected) == (expected_kwh, resets, rejected)


def test_without_a_power_limit_a_jump_counts() -> None:
    (day,) = daily_energy(series(10.0, 10.1, 500.0), UTC_ZONE).values()
    assert (round(day.kwh, 6), day.rejected) == (490.0, 0)


def test_an_interval_over_midnight_is_split_by_time() -> None:
    samples = [(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), 5.0), (datetime(2026, 3, 2, 1, 0, tzinfo=UTC), 5.2)]
    assert kwh(daily_energy(samples, UTC_ZONE)) == {date(2026, 3, 1): 0.1, date(2026, 3, 2): 0.1}
    # The same instants are one local day in Shanghai (07:00 and 09:00).
    assert kwh(daily_energy(samples, SHANGHAI)) == {date(2026, 3, 2): 0.2}


def test_the_short_dst_day_has_23_hours() -> None:
    start = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN).astimezone(UTC)
    samples = series(*[0.1 * i for i in range(24)], start=start)  # 100 W, hourly, 23 real hours
    days = daily_energy(samples, BERLIN)
    assert round(days[date(2026, 3, 29)].kwh, 6) == 2.3
    assert round(days[date(2026, 3, 30)].kwh, 6) == 0.0


def test_order_and_repeats_do_not_matter() -> None:
    samples = series(1.0, 1.5, 2.0, 2.5)
    shuffled = [samples[2], samples[0], samples[3], samples[1], samples[2]]
    assert kwh(daily_energy(shuffled, UTC_ZONE)) == kwh(daily_energy(samples, UTC_ZONE)) == {date(2026, 3, 1): 1.5}
    assert daily_energy([], UTC_ZONE) == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 0.15), st.booleans()), min_size=1, max_size=80), st.floats(0, 1e5))
def test_total_is_the_true_use_whatever_the_restarts(steps: list[tuple[float, bool]], start_kwh: float) -> None:
    # A lamp draws up to 150 W; the counter sometimes restarts from zero between two samples. A
    # restart that ends above the old value looks like use and cannot be told apart: not drawn.
    counter, samples, used = start_kwh, [(T0, round(start_kwh, 9))], 0.0
    for i, (increase, restart) in enumerate(steps, start=1):
        counter = increase if restart and round(increase, 9) < round(counter, 9) else counter + increase
        used += increase
        samples.append((T0 + timedelta(hours=i), round(counter, 9)))
    days = daily_energy(samples, UTC_ZONE, max_power_w=150)
    assert sum(d.kwh for d in days.values()) == pytest.approx(used, abs=1e-6)
    assert sum(d.rejected for d in days.values()) == 0


def test_hours_on_follow_the_schedule() -> None:
    night = ScheduleLibrary.load().get("night")
    observer = Observer(23.13, 113.26)
    day = date(2026, 12, 21)
    morning_off = astral_sun.sunrise(observer, day, tzinfo=SHANGHAI) - timedelta(minutes=10)
    evening_on = astral_sun.sunset(observer, day, tzinfo=SHANGHAI) + timedelta(minutes=10)
    midnight = datetime.combine(day, time(0), SHANGHAI)
    expected = (morning_off - midnight) + (midnight + timedelta(days=1) - evening_on)
    assert hours_on(night, day, 23.13, 113.26, SHANGHAI) == pytest.approx(expected.total_seconds() / 3600)
    oslo = zoneinfo.ZoneInfo("Europe/Oslo")
    assert hours_on(night, date(2026, 12, 21), 69.65, 18.96, oslo) == pytest.approx(24.0)  # polar night
    assert hours_on(night, date(2026, 6, 21), 69.65, 18.96, oslo) == 0.0  # midnight sun


def test_saving_against_full_power() -> None:
    result = saving(used_kwh=0.9, rated_power_w=150, on_hours=12)
    assert (round(result.full_power_kwh, 6), round(result.saved_kwh, 6)) == (1.8, 0.9)
    assert result.saved_pct == pytest.approx(50.0)
    assert saving(0.0, 150, 0).saved_pct is None
