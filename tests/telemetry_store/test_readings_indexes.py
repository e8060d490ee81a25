"""Migration 4 on TimescaleDB: readings are found by time through a BRIN index, on every chunk, old and new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from streetwatch import migrations
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.database import open_database
from streetwatch.readings import Reading
from telemetry_store import open_store
from telemetry_store.schema import MIGRATIONS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Every index on readings and on its chunks: (table, access method, unique, indexed columns).
INDEXES = """
SELECT CASE WHEN c.relname = 'readings' THEN 'readings' ELSE 'chunk' END, am.amname, x.indisunique,
       pg_get_indexdef(x.indexrelid, 0, true) ~ '\\(ts( DESC)?\\)( WITH .*)?$'
FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
WHERE c.relname = 'readings' OR c.oid IN (SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
                                          FROM timescaledb_information.chunks WHERE hypertable_name = 'readings')
"""


async def _indexes(url: str) -> list[tuple[str, str, bool, bool]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return sorted(await (await conn.execute(INDEXES)).fetchall())


async def test_the_time_index_is_brin_on_old_and_new_chunks(fresh_pg_url: str) -> None:
    url = DatabaseUrl.parse(fresh_pg_url)
    async with open_database(url) as db:
        await migrations.migrate(db, MIGRATIONS[:3])
        await db.script("INSERT INTO device_keys (device_key, device_id) VALUES (1, 'lamp-1');"
                        " INSERT INTO metric_keys (metric_key, metric) VALUES (1, 'power_w');"
                        " INSERT INTO readings VALUES ('2026-03-01 12:00:00+00', 1, 1, 41.0)")  # a chunk before 4
        assert ("chunk", "btree", False, True) in await _indexes(fresh_pg_url)  # create_hypertable's B-tree on ts
        await migrations.migrate(db, MIGRATIONS)
    async with open_store(url, StoreSettings()) as store:  # and a chunk made after
        await store.write([Reading("lamp-1", "power_w", T0 + timedelta(days=3), 42.0)])
        indexes = await _indexes(fresh_pg_url)
        # (kind, method, unique, on ts alone): the unique series index de-duplicates, BRIN finds time ranges
        assert indexes == sorted([("readings", "brin", False, True), ("readings", "btree", True, False)]
                                 + [("chunk", "brin", False, True), ("chunk", "btree", True, False)] * 2)
        assert [r.value for r in await store.history("lamp-1", "power_w", T0, T0 + timedelta(days=4))] == [41.0, 42.0]
        await store.write([Reading("lamp-1", "power_w", T0, 41.0)])  # a re-delivery is still refused once
        assert len(await store.history("lamp-1", "power_w", T0, T0 + timedelta(days=4))) == 2


async def test_the_rollup_refresh_summarizes_the_new_brin_ranges_before_reading_by_time(fresh_pg_url: str) -> None:
    """An unsummarized BRIN range matches every query: the refresh leaves none behind in the chunks it reads."""
    url = DatabaseUrl.parse(fresh_pg_url)
    async with open_store(url, StoreSettings()) as store:
        await store.write([Reading(f"lamp-{d}", "power_w", T0 + timedelta(seconds=s), float(s))
                           for s in range(120) for d in range(500)])  # a few BRIN ranges of 128 pages
        assert await store.refresh_rollups(T0 + timedelta(minutes=5)) == 2  # two complete 1 min buckets
        async with await psycopg.AsyncConnection.connect(fresh_pg_url) as conn:
            left = await (await conn.execute(
                "SELECT sum(brin_summarize_new_values(x.indexrelid)) FROM pg_index x JOIN pg_class i ON i.oid ="
                " x.indexrelid WHERE i.relname LIKE '%readings_ts_brin' AND x.indrelid <> 'readings'::regclass")
            ).fetchone()
        assert left == (0,)
        buckets = await store.buckets("lamp-7", "power_w", T0, T0 + timedelta(minutes=2), timedelta(minutes=1))
        assert [(b.count, b.min, b.max) for b in buckets] == [(60, 0.0, 59.0), (60, 60.0, 119.0)]
