"""Migration 2 on TimescaleDB: the last values of a store made by migration 1 survive the new table shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streetwatch import migrations
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.database import open_database
from streetwatch.readings import Reading
from telemetry_store import LatestValue, open_store
from telemetry_store.schema import MIGRATIONS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_latest_values_are_carried_over(fresh_pg_url: str) -> None:
    url = DatabaseUrl.parse(fresh_pg_url)
    async with open_database(url) as db:
        await migrations.migrate(db, MIGRATIONS[:1])
        await db.script("""
            INSERT INTO device_keys (device_key, device_id) VALUES (1, 'lamp-1'), (2, 'gauge-1');
            INSERT INTO metric_keys (metric_key, metric) VALUES (1, 'power_w'), (2, 'battery_v'), (3, 'level_mm');
            INSERT INTO latest_readings (device_key, metric_key, ts, value) VALUES
                (2, 3, '2026-03-01 12:05:00+00', 120.5), (2, 2, '2026-03-01 11:00:00+00', 3.6),
                (1, 1, '2026-03-01 12:00:00+00', 41.0);
        """)
    async with open_store(url, StoreSettings()) as store:
        assert await store.latest() == [
            LatestValue("gauge-1", "battery_v", T0 - timedelta(hours=1), 3.6),
            LatestValue("gauge-1", "level_mm", T0 + timedelta(minutes=5), 120.5),
            LatestValue("lamp-1", "power_w", T0, 41.0)]
        assert await store.last_seen() == {"gauge-1": T0 + timedelta(minutes=5), "lamp-1": T0}
        # and the carried-over rows merge like new ones
        await store.write([Reading("gauge-1", "level_mm", T0 + timedelta(minutes=6), 121.0),
                           Reading("gauge-1", "battery_v", T0 + timedelta(minutes=6), 3.5)])
        assert {(v.metric, v.value) for v in await store.latest(["gauge-1"])} == {("level_mm", 121.0),
                                                                                 ("battery_v", 3.5)}
