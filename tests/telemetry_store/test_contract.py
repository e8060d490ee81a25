"""The store contract, run on SQLite and on TimescaleDB (each test twice, via ``database_url``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import LatestValue, StoreError, TelemetryStore, open_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
FOREVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


async def test_round_trip_is_exact(store: TelemetryStore) -> None:
    # (-0.0 comes back as 0.0 from SQLite, which stores integral REALs as integers; equal as numbers.)
    values = [0.1, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, -123456.789012345, 2.0**53 + 1, math.inf]
    readings = [Reading("lamp-0001", "power_w", T0 + timedelta(seconds=i, microseconds=7 * i + 1), v)
                for i, v in enumerate(values)]
    await store.write(readings)
    back = await store.history("lamp-0001", "power_w", *FOREVER)
    assert back == readings
    assert all(r.ts.utcoffset() == timedelta(0) for r in back)


async def test_history_is_half_open_and_per_series(store: TelemetryStore) -> None:
    await store.write([Reading("g-1", "water_level_mm", T0 + timedelta(minutes=i), float(i)) for i in range(10)]
                      + [Reading("g-1", "battery_v", T0, 3.6), Reading("g-2", "water_level_mm", T0, 99.0)])
    got = await store.history("g-1", "water_level_mm", T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert [r.value for r in got] == [2.0, 3.0, 4.0]
    assert await store.history("g-1", "no_such_metric", *FOREVER) == []
    assert await store.history("nobody", "water_level_mm", *FOREVER) == []


async def test_a_reading_written_twice_is_stored_once(store: TelemetryStore) -> None:
    batch = [Reading("lamp-1", "power_w", T0 + timedelta(seconds=i), float(i)) for i in range(50)]
    await store.write(batch)
    await store.write(batch)  # the gateway redelivers after a crash
    await store.write(batch[10:20] + batch[10:20])  # and duplicates inside one batch
    # The first value stored wins: a redelivery with another value changes nothing.
    await store.write([Reading("lamp-1", "power_w", T0 + timedelta(seconds=49), -1.0)])
    history = await store.history("lamp-1", "power_w", *FOREVER)
    assert history == batch
    assert await store.latest(["lamp-1"]) == [LatestValue("lamp-1", "power_w", batch[-1].ts, 49.0)]
    buckets = await store.buckets("lamp-1", "power_w", *FOREVER, timedelta(hours=1))
    assert [b.count for b in buckets] == [50]


async def test_late_and_out_of_order_readings(store: TelemetryStore) -> None:
    newest = Reading("probe-1", "ph", T0 + timedelta(minutes=10), 7.4)
    await store.write([newest, Reading("probe-1", "ph", T0 + timedelta(minutes=5), 7.1)])
    late = [Reading("probe-1", "ph", T0 - timedelta(hours=3), 6.9), Reading("probe-1", "ph", T0, 7.0)]
    await store.write(late)  # arrives after newer ones: must not replace the latest value
    assert await store.latest(["probe-1"]) == [LatestValue("probe-1", "ph", newest.ts, 7.4)]
    assert [r.value for r in await store.history("probe-1", "ph", *FOREVER)] == [6.9, 7.0, 7.1, 7.4]
    assert await store.last_seen(["probe-1"]) == {"probe-1": newest.ts}


async def test_metrics_reported_apart_keep_their_own_latest(store: TelemetryStore) -> None:
    minute = timedelta(minutes=1)
    await store.write([Reading("g-1", "water_level_mm", T0, 10.0), Reading("g-1", "battery_v", T0, 3.6)])
    await store.write([Reading("g-1", "water_level_mm", T0 + minute, 11.0)])  # the battery reports hourly
    await store.write([Reading("g-1", "water_level_mm", T0 + 2 * minute, 12.0),
                       Reading("g-1", "temperature_c", T0 + 2 * minute, 21.5)])  # a metric seen first now
    await store.write([Reading("g-1", "battery_v", T0 - timedelta(hours=1), 3.9),  # late: loses
                       Reading("g-1", "water_level_mm", T0 + 3 * minute, 13.0)])
    await store.write([Reading("g-1", "battery_v", T0 + 90 * timedelta(seconds=1), 3.5)])  # older than the level
    assert await store.latest(["g-1"]) == [
        LatestValue("g-1", "battery_v", T0 + timedelta(seconds=90), 3.5),
        LatestValue("g-1", "temperature_c", T0 + 2 * minute, 21.5),
        LatestValue("g-1", "water_level_mm", T0 + 3 * minute, 13.0)]
    assert await store.last_seen(["g-1"]) == {"g-1": T0 + 3 * minute}
    everything = [Reading("g-1", m, T0 + 4 * minute, 1.0) for m in ("water_level_mm", "battery_v", "temperature_c")]
    await store.write(everything)
    assert {(v.metric, v.ts, v.value) for v in await store.latest(["g-1"])} == {
        (r.metric, r.ts, r.value) for r in everything}


async def test_latest_and_last_seen_filter_by_device(store: TelemetryStore) -> None:
    readings = [Reading(f"lamp-{d}", metric, T0 + timedelta(seconds=d + i), float(10 * d + i))
                for d in range(5) for i, metric in enumerate(("power_w", "voltage_v", "dim_level_pct"))]
    await store.write(readings)
    everything = await store.latest()
    assert len(everything) == 15
    assert [(v.device_id, v.metric) for v in everything] == sorted((r.device_id, r.metric) for r in readings)
    some = await store.latest(["lamp-1", "lamp-3", "not-registered"])
    assert {v.device_id for v in some} == {"lamp-1", "lamp-3"}
    assert {(v.metric, v.value) for v in some if v.device_id == "lamp-3"} == {
        ("power_w", 30.0), ("voltage_v", 31.0), ("dim_level_pct", 32.0)}
    seen = await store.last_seen()
    assert seen == {f"lamp-{d}": T0 + timedelta(seconds=d + 2) for d in range(5)}
    assert await store.last_seen(["lamp-4", "ghost"]) == {"lamp-4": T0 + timedelta(seconds=6)}
    assert await store.latest([]) == []


async def test_latest_of_metrics_answers_the_named_metrics_of_every_device(store: TelemetryStore) -> None:
    minute = timedelta(minutes=1)
    await store.write([Reading(f"lamp-{d}", metric, T0, float(10 * d + i))
                       for d in range(3) for i, metric in enumerate(("relay_on", "dim_level_pct", "power_w"))])
    await store.write([Reading("lamp-1", "dim_level_pct", T0 + minute, 55.0),  # newer wins
                       Reading("lamp-2", "dim_level_pct", T0 - minute, 99.0),  # older loses
                       Reading("gauge-1", "water_level_mm", T0, 120.0)])
    assert await store.latest_of_metrics(["relay_on", "dim_level_pct", "fault_bits"]) == {
        "lamp-0": {"relay_on": 0.0, "dim_level_pct": 1.0},
        "lamp-1": {"relay_on": 10.0, "dim_level_pct": 55.0},
        "lamp-2": {"relay_on": 20.0, "dim_level_pct": 21.0}}
    assert await store.latest_of_metrics(["water_level_mm"]) == {"gauge-1": {"water_level_mm": 120.0}}
    assert await store.latest_of_metrics([]) == {}


async def test_a_bad_reading_is_a_store_error_and_the_batch_is_not_half_written(store: TelemetryStore) -> None:
    good = Reading("lamp-1", "power_w", T0, 1.0)
    naive = Reading("lamp-1", "power_w", datetime(2026, 3, 1, 12, 1), 2.0)  # naive: the bad input
    with pytest.raises(StoreError, match="not storable"):
        await store.write([good, naive])
    assert await store.history("lamp-1", "power_w", *FOREVER) == []
    await store.write([good])
    assert await store.history("lamp-1", "power_w", *FOREVER) == [good]


async def test_keys_survive_reopening(database_url: str) -> None:
    url = DatabaseUrl.parse(database_url)
    async with open_store(url, StoreSettings()) as first:
        await first.write([Reading("a", "m1", T0, 1.0), Reading("b", "m2", T0, 2.0)])
    async with open_store(url, StoreSettings()) as second:
        await second.write([Reading("c", "m1", T0, 3.0), Reading("a", "m2", T0, 4.0)])
        assert {(v.device_id, v.metric, v.value) for v in await second.latest()} == {
            ("a", "m1", 1.0), ("b", "m2", 2.0), ("c", "m1", 3.0), ("a", "m2", 4.0)}


async def test_a_big_batch_and_its_redelivery(store: TelemetryStore) -> None:
    # Big enough for the TimescaleDB store to split it over two connections.
    batch = [Reading(f"lamp-{d:03d}", metric, T0 + timedelta(seconds=s), float(d * 100 + s))
             for s in range(3) for d in range(400) for metric in ("power_w", "voltage_v")]
    await store.write(batch)
    await store.write([*batch[1000:], Reading("lamp-999", "power_w", T0, 1.0)])  # half redelivered, one new
    latest = await store.latest()
    assert len(latest) == 2 * 400 + 1
    assert {v.ts for v in latest if v.device_id != "lamp-999"} == {T0 + timedelta(seconds=2)}
    for device in ("lamp-000", "lamp-001", "lamp-398", "lamp-399"):
        history = await store.history(device, "voltage_v", *FOREVER)
        assert [r.value for r in history] == [float(int(device[-3:]) * 100 + s) for s in range(3)]
    buckets = await store.buckets("lamp-001", "power_w", *FOREVER, timedelta(days=1))
    assert [b.count for b in buckets] == [3]
