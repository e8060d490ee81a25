"""Rollups and retention, with explicit ``now`` values: no waiting, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streetwatch.readings import Reading
from telemetry_store import Resolution, TelemetryStore
from tests.telemetry_store.brute import assert_same_buckets, brute_buckets

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FOREVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def series(device: str, start: datetime, count: int, step: timedelta) -> list[Reading]:
    return [Reading(device, "water_level_mm", start + i * step, float((i * 37) % 101) - 20.5) for i in range(count)]


async def test_refresh_builds_complete_buckets_and_queries_add_the_rest(store: TelemetryStore) -> None:
    readings = series("g-1", T0, 400, timedelta(seconds=29))  # about 3 h 13 min
    await store.write(readings)
    assert await store.rollup_watermarks() == {}
    now = T0 + timedelta(hours=2, minutes=30, seconds=5)
    rebuilt = await store.refresh_rollups(now)
    assert rebuilt == 150 + 2  # 150 complete minutes, then the 2 complete hours
    assert await store.rollup_watermarks() == {Resolution.minute: T0 + timedelta(hours=2, minutes=30),
                                               Resolution.hour: T0 + timedelta(hours=2)}
    assert await store.refresh_rollups(now) == 0  # nothing new: nothing rebuilt
    # Rollups up to the watermarks, finer data beyond: the answer is the same as from raw readings.
    for width in (MINUTE, 5 * MINUTE, HOUR, 2 * HOUR, timedelta(days=1), timedelta(seconds=45)):
        got = await store.buckets("g-1", "water_level_mm", T0 + timedelta(minutes=7), T0 + 4 * HOUR, width)
        assert_same_buckets(got, brute_buckets(readings, T0 + timedelta(minutes=7), T0 + 4 * HOUR, width))


async def test_a_late_reading_reaches_the_rollups_at_the_next_refresh(store: TelemetryStore) -> None:
    readings = series("g-1", T0, 120, MINUTE)
    await store.write(readings)
    await store.refresh_rollups(T0 + 3 * HOUR)
    late = Reading("g-1", "water_level_mm", T0 + timedelta(minutes=30, seconds=30), 1000.0)
    await store.write([late])
    assert await store.refresh_rollups(T0 + 3 * HOUR) == 2  # its minute, then its hour
    for width in (MINUTE, HOUR):
        got = await store.buckets("g-1", "water_level_mm", *FOREVER, width)
        assert_same_buckets(got, brute_buckets([*readings, late], *FOREVER, width))
    hourly = await store.buckets("g-1", "water_level_mm", *FOREVER, HOUR)
    assert hourly[0].max == 1000.0 and hourly[0].count == 61


async def test_retention_drops_only_what_is_past_each_resolution(store: TelemetryStore) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    ancient = series("g-1", now - timedelta(days=800), 3, MINUTE)  # past raw and minute retention
    old = series("g-1", now - timedelta(days=100), 3, MINUTE)  # past raw retention (90 days)
    recent = series("g-1", now - timedelta(days=89), 3, MINUTE) + series("g-1", now - timedelta(days=1), 3, MINUTE)
    await store.write(ancient + old + recent)
    await store.refresh_rollups(now)

    plan = {step.resolution: step for step in await store.retention_plan(now)}
    assert plan[Resolution.raw].cutoff == now - timedelta(days=90)
    assert plan[Resolution.raw].drop_count >= 1 and plan[Resolution.minute].drop_count >= 1
    assert plan[Resolution.hour].cutoff is None and plan[Resolution.hour].drop_count == 0
    assert await store.history("g-1", "water_level_mm", *FOREVER) == ancient + old + recent  # a plan drops nothing

    applied = {step.resolution: step.drop_count for step in await store.apply_retention(now)}
    assert applied == {r: plan[r].drop_count for r in Resolution}
    assert await store.history("g-1", "water_level_mm", *FOREVER) == recent
    assert [s.drop_count for s in await store.retention_plan(now)] == [0, 0, 0]
    # The minute rollups still answer for the dropped raw readings; the hourly ones for everything.
    minutes = await store.buckets("g-1", "water_level_mm", *FOREVER, MINUTE)
    assert_same_buckets(minutes, brute_buckets(old + recent, *FOREVER, MINUTE))
    hours = await store.buckets("g-1", "water_level_mm", *FOREVER, HOUR)
    assert_same_buckets(hours, brute_buckets(ancient + old + recent, *FOREVER, HOUR))
    # A refresh after retention does not lose rollups whose raw readings are gone.
    await store.write([Reading("g-1", "water_level_mm", old[0].ts, 5.0)])  # very late, and dropped again
    await store.refresh_rollups(now)
    assert_same_buckets(await store.buckets("g-1", "water_level_mm", *FOREVER, HOUR),
                        brute_buckets(ancient + old + recent, *FOREVER, HOUR))
