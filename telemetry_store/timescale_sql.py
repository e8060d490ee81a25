"""The TimescaleDB store's SQL, in one place (psycopg ``%s`` placeholders)."""

from __future__ import annotations

from datetime import timedelta

REFRESH_LOCK_KEY = 0x5757_0501  # one rollup refresh at a time across processes

# Per connection, emptied at every commit: the readings of a batch that must skip duplicates, and
# the batch's newest values per device (telemetry_store.latest_batch encodes those rows).
CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS readings_staging (
    ts TIMESTAMPTZ NOT NULL, device_key INTEGER NOT NULL, metric_key SMALLINT NOT NULL, value DOUBLE PRECISION NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS latest_staging (
    device_key INTEGER NOT NULL, newest_ts TIMESTAMPTZ NOT NULL, oldest_ts TIMESTAMPTZ NOT NULL,
    metric_keys SMALLINT[] NOT NULL, ts TIMESTAMPTZ[], value DOUBLE PRECISION[] NOT NULL
) ON COMMIT DELETE ROWS
"""
READINGS_COLUMNS = "(ts, device_key, metric_key, value) FROM STDIN (FORMAT BINARY)"
COPY_READINGS = "COPY readings " + READINGS_COLUMNS
COPY_STAGING = "COPY readings_staging " + READINGS_COLUMNS
ROW_TYPES = ["timestamptz", "int4", "int2", "float8"]

# The usual case needs no merge: the batch has the metrics stored for the device, all newer (both
# lists are in key order, so comparing them whole is cheap).
_FAST = "excluded.oldest_ts > l.newest_ts AND excluded.metric_keys = l.metric_keys"
_MERGED = ("(latest_values_merge(l.metric_keys, l.ts, l.value, l.newest_ts,"
           " excluded.metric_keys, excluded.ts, excluded.value, excluded.oldest_ts)).{}")
# One round trip after the COPYs: the last values (a newer ts wins; rows are locked in key order, so
# concurrent writers cannot deadlock here), the minutes the rollup job must rebuild (%s, computed by
# the client) and, in the careful form, the readings from staging without the duplicates.
_MERGE = """
WITH {stored}marked AS (
    INSERT INTO rollup_dirty AS d (resolution, bucket) SELECT '1m', b FROM unnest(%s::timestamptz[]) AS b
    ON CONFLICT (resolution, bucket) DO UPDATE SET generation = d.generation + 1
)
INSERT INTO latest_values AS l (device_key, newest_ts, oldest_ts, metric_keys, ts, value)
SELECT device_key, newest_ts, oldest_ts, metric_keys,
       coalesce(ts, array_fill(newest_ts, ARRAY[cardinality(metric_keys)])), value  -- NULL: all at newest_ts
FROM latest_staging ORDER BY device_key
ON CONFLICT (device_key) DO UPDATE SET newest_ts = greatest(l.newest_ts, excluded.newest_ts), {columns}
"""
_COLUMNS = ", ".join(f"{column} = CASE WHEN {_FAST} THEN excluded.{column} ELSE {_MERGED.format(column)} END"
                     for column in ("metric_keys", "ts", "value", "oldest_ts"))
MERGE_LATEST = _MERGE.format(stored="", columns=_COLUMNS)
# ctid: among equal (series, ts) the first row copied wins, as it does in the latest values.
MERGE_SKIPPING_DUPLICATES = _MERGE.format(columns=_COLUMNS, stored="""stored AS (
    INSERT INTO readings (ts, device_key, metric_key, value)
    SELECT ts, device_key, metric_key, value FROM readings_staging ORDER BY ctid
    ON CONFLICT DO NOTHING
), """)

# Keys: only names not there yet, so the identity sequence is not burnt on conflicts.
ADD_DEVICE_KEYS = """
INSERT INTO device_keys (device_id)
SELECT id FROM unnest(%s::text[]) AS id WHERE NOT EXISTS (SELECT 1 FROM device_keys k WHERE k.device_id = id)
ON CONFLICT (device_id) DO NOTHING
"""
ADD_METRIC_KEYS = """
INSERT INTO metric_keys (metric)
SELECT m FROM unnest(%s::text[]) AS m WHERE NOT EXISTS (SELECT 1 FROM metric_keys k WHERE k.metric = m)
ON CONFLICT (metric) DO NOTHING
"""
SET_CHUNK_INTERVAL = "SELECT set_chunk_time_interval('readings', %s::interval)"

LATEST_ALL = """
SELECT l.device_key, u.metric_key, u.ts, u.value
FROM latest_values l, unnest(l.metric_keys, l.ts, l.value) AS u(metric_key, ts, value)
"""
LATEST_OF = LATEST_ALL + " WHERE l.device_key = ANY(%s::int[])"
# Names joined in the query: the map of every lamp asks for a few metrics of 100,000 devices at once.
LATEST_OF_METRICS = """
SELECT d.device_id, m.metric, u.value
FROM latest_values l CROSS JOIN LATERAL unnest(l.metric_keys, l.value) AS u(metric_key, value)
JOIN metric_keys m ON m.metric_key = u.metric_key JOIN device_keys d ON d.device_key = l.device_key
WHERE m.metric = ANY(%s::text[])
"""
LAST_SEEN_ALL = "SELECT device_key, newest_ts FROM latest_values"
LAST_SEEN_OF = "SELECT device_key, newest_ts FROM latest_values WHERE device_key = ANY(%s::int[])"
HISTORY = """
SELECT ts, value FROM readings
WHERE device_key = %s AND metric_key = %s AND ts >= %s AND ts < %s ORDER BY ts
"""
BUCKETS_RAW = """
SELECT time_bucket(%s::interval, ts, %s::timestamptz) AS b, min(value), max(value), sum(value), count(*)
FROM readings WHERE device_key = %s AND metric_key = %s AND ts >= %s AND ts < %s GROUP BY b
"""


def buckets_rollup(table: str) -> str:
    return f"""
SELECT time_bucket(%s::interval, bucket, %s::timestamptz) AS b,
       min(min_value), max(max_value), sum(sum_value), sum(count)::bigint
FROM {table} WHERE device_key = %s AND metric_key = %s AND bucket >= %s AND bucket < %s GROUP BY b
"""


def rebuild_rollup(table: str, source: str, width: timedelta) -> str:
    """Recompute ``table``'s buckets in ``[%s, %s)`` from ``source``.

    Upsert only: readings are never changed once stored, so a bucket's aggregate only grows, and a
    bucket whose source was dropped by retention keeps its last value instead of vanishing.
    """
    seconds = int(width.total_seconds())
    if source == "readings":
        select = f"""SELECT time_bucket(INTERVAL '{seconds} seconds', ts), device_key, metric_key,
               min(value), max(value), sum(value), count(*)
        FROM readings WHERE ts >= %s AND ts < %s GROUP BY 1, 2, 3"""
    else:
        select = f"""SELECT time_bucket(INTERVAL '{seconds} seconds', bucket), device_key, metric_key,
               min(min_value), max(max_value), sum(sum_value), sum(count)
        FROM {source} WHERE bucket >= %s AND bucket < %s GROUP BY 1, 2, 3"""
    return f"""
INSERT INTO {table} (bucket, device_key, metric_key, min_value, max_value, sum_value, count)
{select}
ON CONFLICT (device_key, metric_key, bucket) DO UPDATE SET
    min_value = excluded.min_value, max_value = excluded.max_value,
    sum_value = excluded.sum_value, count = excluded.count
"""


# Rebuilding a bucket whose source retention has (partly) dropped would shrink it: forget those marks.
FORGET_MARKS_PAST_RETENTION = """
DELETE FROM rollup_dirty d USING retention_state r
WHERE d.resolution = %s AND r.resolution = %s AND d.bucket < r.dropped_before
"""
RECORD_RETENTION = """
INSERT INTO retention_state AS s (resolution, dropped_before) VALUES (%s, %s)
ON CONFLICT (resolution) DO UPDATE SET dropped_before = greatest(s.dropped_before, excluded.dropped_before)
"""
# Before the minute rollups read readings by time: summarize the BRIN ranges not summarized yet, in the chunks
# that can hold the dirty minutes (%s: the earliest). An unsummarized range matches every query, and the
# autovacuum requests that autosummarize makes are dropped when more than 256 ranges wait (a few seconds
# of readings at 200,000 a second), which would leave the rollup job reading a growing tail of the chunk.
SUMMARIZE_NEW_RANGES = """
SELECT coalesce(sum(brin_summarize_new_values(x.indexrelid)), 0)
FROM timescaledb_information.chunks c
JOIN pg_index x ON x.indrelid = format('%%I.%%I', c.chunk_schema, c.chunk_name)::regclass
JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam AND am.amname = 'brin'
WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'readings' AND c.range_end > %s
"""
DROP_FLAGS = "DELETE FROM reading_flags WHERE ts < %s"
DIRTY_MARKS = "SELECT bucket, generation FROM rollup_dirty WHERE resolution = %s AND bucket < %s ORDER BY bucket"
MARK_DIRTY = """
INSERT INTO rollup_dirty AS d (resolution, bucket) SELECT %s, b FROM unnest(%s::timestamptz[]) AS b
ON CONFLICT (resolution, bucket) DO UPDATE SET generation = d.generation + 1
"""
# A mark whose generation moved on was re-marked by a writer during the rebuild: keep it.
CLEAR_MARKS = """
DELETE FROM rollup_dirty d USING unnest(%s::timestamptz[], %s::bigint[]) AS p(bucket, generation)
WHERE d.resolution = %s AND d.bucket = p.bucket AND d.generation = p.generation
"""
ADVANCE_WATERMARK = """
INSERT INTO rollup_state AS s (resolution, watermark) VALUES (%s, %s)
ON CONFLICT (resolution) DO UPDATE SET watermark = greatest(s.watermark, excluded.watermark)
"""
SHOW_CHUNKS = "SELECT count(*) FROM show_chunks(%s::regclass, older_than => %s::timestamptz)"
DROP_CHUNKS = "SELECT count(*) FROM drop_chunks(%s::regclass, older_than => %s::timestamptz)"
