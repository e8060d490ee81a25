"""Flagged readings kept beside the readings, on SQLite and on TimescaleDB (each test twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streetwatch.readings import Reading
from telemetry_store import FlaggedReading, TelemetryStore

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def flagged(device: str, seconds: float, value: float, *flags: str, metric: str = "water_level_mm") -> FlaggedReading:
    return FlaggedReading(device, metric, T0 + timedelta(seconds=seconds, microseconds=3), value, flags,
                          "gauge-quality")


async def test_flags_are_stored_queried_by_series_and_range(store: TelemetryStore) -> None:
    spike, stuck = flagged("CG-1", 30, 950.0, "spike", "gradient"), flagged("CG-1", 90, 412.0, "stuck")
    other = flagged("CG-2", 60, -260.0, "below_floor")
    battery = flagged("CG-2", 61, 3.1, "low_battery", metric="battery_v")
    await store.write_flags([stuck, spike, other, battery])
    everything = await store.flagged(T0, T0 + timedelta(hours=1))
    assert everything == [spike, other, battery, stuck]  # oldest first, flags and rule as written
    assert await store.flagged(T0, T0 + timedelta(hours=1), device_id="CG-1") == [spike, stuck]
    assert await store.flagged(T0, T0 + timedelta(hours=1), device_id="CG-2", metric="battery_v") == [battery]
    assert await store.flagged(T0 + timedelta(seconds=60, microseconds=3), T0 + timedelta(seconds=90, microseconds=3)) \
        == [other, battery]  # half open, to the microsecond
    assert await store.flagged(T0, T0 + timedelta(hours=1), limit=2) == [spike, other]
    assert await store.flagged(T0, T0 + timedelta(hours=1), device_id="CG-9") == []


async def test_a_reading_flagged_twice_keeps_its_first_flags_and_the_readings_are_untouched(
        store: TelemetryStore) -> None:
    spike = flagged("CG-1", 30, 950.0, "spike")
    reading = Reading("CG-1", "water_level_mm", spike.ts, 950.0)
    await store.write([reading])
    await store.write_flags([spike])
    await store.write_flags([flagged("CG-1", 30, 950.0, "gradient"), spike])  # delivered again after a retry
    await store.write_flags([])
    assert await store.flagged(T0, T0 + timedelta(hours=1)) == [spike]
    assert await store.history("CG-1", "water_level_mm", T0, T0 + timedelta(hours=1)) == [reading]


async def test_retention_drops_the_flags_of_the_readings_it_drops(store: TelemetryStore) -> None:
    now = T0 + timedelta(days=100)
    old = flagged("CG-1", 0, 950.0, "spike")  # 100 days old: past raw retention (90 days), as its reading
    kept = FlaggedReading("CG-1", "water_level_mm", now - timedelta(days=89), 412.0, ("stuck",), "gauge-quality")
    await store.write([Reading("CG-1", "water_level_mm", f.ts, f.value) for f in (old, kept)])
    await store.write_flags([old, kept])
    await store.apply_retention(now)
    assert await store.flagged(T0 - timedelta(days=1), now) == [kept]
    assert await store.history("CG-1", "water_level_mm", T0 - timedelta(days=1), now) == [
        Reading("CG-1", "water_level_mm", kept.ts, kept.value)]
