"""The embedded store: one SQLite file in WAL mode, for a small site or the demo.

Times are integer microseconds since the Unix epoch. Each batch is one transaction run on
aiosqlite's thread, off the event loop. The contract is the TimescaleDB store's: a reading
written twice is stored once, a late reading never replaces a newer latest value, and the same
rollups and retention (rows are deleted; there are no chunks).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from streetwatch.config import StoreSettings
from streetwatch.database import Database, DatabaseError
from streetwatch.readings import Reading
from telemetry_store.contract import TABLES, TelemetryStore, retention_keep, split_by_watermark
from telemetry_store.errors import StoreError
from telemetry_store.keys import KeyCache
from telemetry_store.model import (
    Bucket,
    FlaggedReading,
    LatestValue,
    Resolution,
    RetentionStep,
    ceil_time,
    floor_time,
    from_micros,
    merge_parts,
    resolution_for,
    to_micros,
)
from telemetry_store.rollup_plan import contiguous_ranges
from telemetry_store.schema import FLAGS_INSERT, FLAGS_SELECT

log = logging.getLogger(__name__)
_MINUTE_US = 60_000_000

_STORE = "INSERT INTO readings (device_key, metric_key, ts, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
_KEEP_LATEST = """
INSERT INTO latest_readings (device_key, metric_key, ts, value) VALUES (?, ?, ?, ?)
ON CONFLICT (device_key, metric_key) DO UPDATE SET ts = excluded.ts, value = excluded.value
WHERE excluded.ts > latest_readings.ts
"""
_MARK = """
INSERT INTO rollup_dirty (resolution, bucket) VALUES (?, ?)
ON CONFLICT (resolution, bucket) DO UPDATE SET generation = generation + 1
"""
# Rebuilding a bucket whose source retention has (partly) deleted would shrink it: forget those marks.
_FORGET_MARKS_PAST_RETENTION = """
DELETE FROM rollup_dirty WHERE resolution = ?
AND bucket < (SELECT dropped_before FROM retention_state WHERE resolution = ?)
"""
_RECORD_RETENTION = """
INSERT INTO retention_state (resolution, dropped_before) VALUES (?, ?)
ON CONFLICT (resolution) DO UPDATE SET dropped_before = max(dropped_before, excluded.dropped_before)
"""
_NAMED = """
SELECT d.device_id, m.metric, l.ts, l.value FROM latest_readings l
JOIN device_keys d ON d.device_key = l.device_key JOIN metric_keys m ON m.metric_key = l.metric_key
"""
_ONLY_DEVICES = " WHERE d.device_id IN (SELECT value FROM json_each(?))"
_ONLY_METRICS = " WHERE m.metric IN (SELECT value FROM json_each(?))"
_SERIES = """
SELECT d.device_key, m.metric_key FROM device_keys d, metric_keys m WHERE d.device_id = ? AND m.metric = ?
"""


def _rebuild(table: str, source: str) -> str:
    """Upsert ``table``'s buckets in ``[?, ?)`` from ``source`` (see the TimescaleDB store for why upsert)."""
    if source == "readings":
        select = """SELECT (ts / ?) * ?, device_key, metric_key, min(value), max(value), sum(value), count(*)
        FROM readings WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3"""
    else:
        select = f"""SELECT (bucket / ?) * ?, device_key, metric_key, min(min_value), max(max_value),
               sum(sum_value), sum(count)
        FROM {source} WHERE bucket >= ? AND bucket < ? GROUP BY 1, 2, 3"""
    return f"""
INSERT INTO {table} (bucket, device_key, metric_key, min_value, max_value, sum_value, count)
{select}
ON CONFLICT (device_key, metric_key, bucket) DO UPDATE SET
    min_value = excluded.min_value, max_value = excluded.max_value,
    sum_value = excluded.sum_value, count = excluded.count
"""


def _bucket_query(source: Resolution) -> str:
    if source is Resolution.raw:
        return """SELECT (ts / ?) * ? AS b, min(value), max(value), sum(value), count(*) FROM readings
        WHERE device_key = ? AND metric_key = ? AND ts >= ? AND ts < ? GROUP BY b"""
    return f"""SELECT (bucket / ?) * ? AS b, min(min_value), max(max_value), sum(sum_value), sum(count)
        FROM {TABLES[source]} WHERE device_key = ? AND metric_key = ? AND bucket >= ? AND bucket < ? GROUP BY b"""


class SqliteStore(TelemetryStore):
    """Readings in the embedded SQLite file. Use :func:`telemetry_store.open_store` to get one."""

    backend = "sqlite"

    def __init__(self, db: Database, settings: StoreSettings) -> None:
        self._db = db
        self.settings = settings
        self._keys = KeyCache()

    async def start(self) -> None:
        rows = await self._db.fetch_all("SELECT device_id, device_key FROM device_keys")
        self._keys.devices.add((r["device_id"], r["device_key"]) for r in rows)
        rows = await self._db.fetch_all("SELECT metric, metric_key FROM metric_keys")
        self._keys.metrics.add((r["metric"], r["metric_key"]) for r in rows)

    async def _ensure_keys(self, readings: Sequence[Reading]) -> None:
        devices = sorted({r.device_id for r in readings} - self._keys.devices.by_id.keys())
        metrics = sorted({r.metric for r in readings} - self._keys.metrics.by_id.keys())
        if not devices and not metrics:
            return
        # Committed on their own: a key cached from a rolled-back transaction could be handed out again.
        async with self._db.transaction() as tx:
            await tx.executemany("INSERT INTO device_keys (device_id) VALUES (?) ON CONFLICT DO NOTHING",
                                 [(d,) for d in devices])
            await tx.executemany("INSERT INTO metric_keys (metric) VALUES (?) ON CONFLICT DO NOTHING",
                                 [(m,) for m in metrics])
            found = await tx.fetch_all("SELECT device_id, device_key FROM device_keys WHERE device_id IN"
                                       " (SELECT value FROM json_each(?))", (json.dumps(devices),))
            self._keys.devices.add((r["device_id"], r["device_key"]) for r in found)
            found = await tx.fetch_all("SELECT metric, metric_key FROM metric_keys WHERE metric IN"
                                       " (SELECT value FROM json_each(?))", (json.dumps(metrics),))
            self._keys.metrics.add((r["metric"], r["metric_key"]) for r in found)

    async def write(self, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        try:
            await self._ensure_keys(readings)
            devices, metrics = self._keys.devices.by_id, self._keys.metrics.by_id
            try:
                rows = [(devices[r.device_id], metrics[r.metric], to_micros(r.ts), float(r.value)) for r in readings]
            except (TypeError, ValueError) as exc:  # e.g. a naive ts, a value that is no number
                raise StoreError(f"a reading in the batch is not storable: {exc}") from exc
            minutes = sorted({row[2] // _MINUTE_US * _MINUTE_US for row in rows})
            async with self._db.transaction() as tx:
                await tx.executemany(_STORE, rows)
                await tx.executemany(_KEEP_LATEST, rows)
                await tx.executemany(_MARK, [(Resolution.minute.value, m) for m in minutes])
        except DatabaseError as exc:
            raise StoreError(f"SQLite refused the batch: {exc}") from exc

    async def latest(self, device_ids: Collection[str] | None = None) -> list[LatestValue]:
        if device_ids is None:
            rows = await self._db.fetch_all(_NAMED)
        else:
            rows = await self._db.fetch_all(_NAMED + _ONLY_DEVICES, (json.dumps(list(device_ids)),))
        found = [LatestValue(r["device_id"], r["metric"], from_micros(r["ts"]), r["value"]) for r in rows]
        return sorted(found, key=lambda v: (v.device_id, v.metric))

    async def latest_of_metrics(self, metrics: Collection[str]) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        if metrics:
            for row in await self._db.fetch_all(_NAMED + _ONLY_METRICS, (json.dumps(list(metrics)),)):
                found.setdefault(row["device_id"], {})[row["metric"]] = row["value"]
        return found

    async def last_seen(self, device_ids: Collection[str] | None = None) -> dict[str, datetime]:
        query = "SELECT d.device_id, max(l.ts) AS ts FROM latest_readings l JOIN device_keys d USING (device_key)"
        if device_ids is None:
            rows = await self._db.fetch_all(query + " GROUP BY d.device_id")
        else:
            rows = await self._db.fetch_all(query + _ONLY_DEVICES + " GROUP BY d.device_id",
                                            (json.dumps(list(device_ids)),))
        return {r["device_id"]: from_micros(r["ts"]) for r in rows}

    async def _series(self, device_id: str, metric: str) -> tuple[int, int] | None:
        row = await self._db.fetch_one(_SERIES, (device_id, metric))
        return None if row is None else (row["device_key"], row["metric_key"])

    async def history(self, device_id: str, metric: str, start: datetime, end: datetime) -> list[Reading]:
        keys = await self._series(device_id, metric)
        if keys is None:
            return []
        rows = await self._db.fetch_all(
            "SELECT ts, value FROM readings WHERE device_key = ? AND metric_key = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts", (*keys, to_micros(start), to_micros(end)))
        return [Reading(device_id, metric, from_micros(r["ts"]), r["value"]) for r in rows]

    async def write_flags(self, flagged: Sequence[FlaggedReading]) -> None:
        if not flagged:
            return
        try:
            rows = [(f.device_id, f.metric, to_micros(f.ts), float(f.value), ",".join(f.flags), f.rule)
                    for f in flagged]
            async with self._db.transaction() as tx:
                await tx.executemany(FLAGS_INSERT, rows)
        except DatabaseError as exc:
            raise StoreError(f"SQLite refused the flagged readings: {exc}") from exc

    async def flagged(self, start: datetime, end: datetime, *, device_id: str | None = None,
                      metric: str | None = None, limit: int = 10_000) -> list[FlaggedReading]:
        rows = await self._db.fetch_all(FLAGS_SELECT.replace("%s", "?"),
                                        (to_micros(start), to_micros(end), device_id, device_id, metric, metric,
                                         limit))
        return [FlaggedReading(r["device_id"], r["metric"], from_micros(r["ts"]), r["value"],
                               tuple(r["flags"].split(",")), r["rule"]) for r in rows]

    async def buckets(
        self, device_id: str, metric: str, start: datetime, end: datetime, bucket: timedelta
    ) -> list[Bucket]:
        resolution = resolution_for(bucket)
        lo, hi = floor_time(start, bucket), ceil_time(end, bucket)
        keys = await self._series(device_id, metric)
        if hi <= lo or keys is None:
            return []
        width_us = to_micros(from_micros(0) + bucket)
        parts = []
        for source, piece_lo, piece_hi in split_by_watermark(lo, hi, resolution, await self.rollup_watermarks()):
            rows = await self._db.fetch_all(_bucket_query(source), (width_us, width_us, *keys, to_micros(piece_lo),
                                                                    to_micros(piece_hi)))
            parts += [(from_micros(r["b"]), *list(r.values())[1:]) for r in rows]
        return merge_parts(parts)

    async def rollup_watermarks(self) -> dict[Resolution, datetime]:
        rows = await self._db.fetch_all("SELECT resolution, watermark FROM rollup_state")
        return {Resolution(r["resolution"]): from_micros(r["watermark"]) for r in rows}

    async def refresh_rollups(self, now: datetime) -> int:
        rebuilt = 0
        async with self._db.transaction() as tx:
            for resolution, source in ((Resolution.minute, "readings"), (Resolution.hour, "readings_1m")):
                source_resolution = Resolution.raw if resolution is Resolution.minute else Resolution.minute
                await tx.execute(_FORGET_MARKS_PAST_RETENTION, (resolution.value, source_resolution.value))
                complete_until = floor_time(now, resolution.width)
                rows = await tx.fetch_all("SELECT bucket FROM rollup_dirty WHERE resolution = ? AND bucket < ?",
                                          (resolution.value, to_micros(complete_until)))
                marks = [from_micros(r["bucket"]) for r in rows]
                width_us = to_micros(from_micros(0) + resolution.width)
                for range_lo, range_hi in contiguous_ranges(marks, resolution.width):
                    await tx.execute(_rebuild(TABLES[resolution], source),
                                     (width_us, width_us, to_micros(range_lo), to_micros(range_hi)))
                if resolution is Resolution.minute:
                    hours = {floor_time(m, Resolution.hour.width) for m in marks}
                    await tx.executemany(_MARK, [(Resolution.hour.value, to_micros(h)) for h in sorted(hours)])
                await tx.executemany("DELETE FROM rollup_dirty WHERE resolution = ? AND bucket = ?",
                                     [(resolution.value, r["bucket"]) for r in rows])
                await tx.execute(
                    "INSERT INTO rollup_state (resolution, watermark) VALUES (?, ?) ON CONFLICT (resolution)"
                    " DO UPDATE SET watermark = max(watermark, excluded.watermark)",
                    (resolution.value, to_micros(complete_until)))
                rebuilt += len(marks)
        return rebuilt

    async def retention_plan(self, now: datetime) -> list[RetentionStep]:
        return await self._retention(now, apply=False)

    async def apply_retention(self, now: datetime) -> list[RetentionStep]:
        return await self._retention(now, apply=True)

    async def _retention(self, now: datetime, *, apply: bool) -> list[RetentionStep]:
        steps = []
        for resolution, keep in retention_keep(self.settings).items():
            table = TABLES[resolution]
            column = "ts" if resolution is Resolution.raw else "bucket"
            cutoff = None if keep is None else now - keep
            count = 0
            if cutoff is not None:
                if apply:
                    async with self._db.transaction() as tx:
                        count = await tx.execute(f"DELETE FROM {table} WHERE {column} < ?", (to_micros(cutoff),))
                        await tx.execute(_RECORD_RETENTION, (resolution.value, to_micros(cutoff)))
                        if resolution is Resolution.raw:  # a flag lives as long as the reading it flags
                            await tx.execute("DELETE FROM reading_flags WHERE ts < ?", (to_micros(cutoff),))
                    if count:
                        log.info("retention deleted %d row(s) of %s older than %s", count, table, cutoff)
                else:
                    count = int(await self._db.fetch_value(f"SELECT count(*) FROM {table} WHERE {column} < ?",
                                                           (to_micros(cutoff),)))
            steps.append(RetentionStep(resolution, table, keep, cutoff, count, "rows"))
        return steps
