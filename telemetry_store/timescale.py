"""The TimescaleDB store: binary COPY straight into the hypertable, then one merge of the last values.

A batch is one transaction: ``COPY … FROM STDIN (FORMAT BINARY)`` into ``readings``; a binary COPY
of the batch's newest value per metric, one row per device (:mod:`telemetry_store.latest_batch`),
into a per-connection temp table; then one statement that merges those into ``latest_values``
(only a newer ``ts`` wins, so a late reading never hides a newer one) and marks the touched minutes
for the rollup job. The gateway delivers at least once: a duplicate fails the COPY, and the batch
(and the next few) goes through a staging table with ``ON CONFLICT DO NOTHING`` instead.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from streetwatch.config import StoreSettings
from streetwatch.figures import show
from streetwatch.readings import Reading
from telemetry_store import timescale_sql as sql
from telemetry_store.contract import TABLES, TelemetryStore, retention_keep, split_by_watermark
from telemetry_store.copy_batch import EncodedBatch, encode_batch
from telemetry_store.errors import StoreError, StoreUnavailable
from telemetry_store.keys import KeyCache, KeyMap
from telemetry_store.latest_batch import COPY_LATEST
from telemetry_store.model import (
    EPOCH,
    Bucket,
    FlaggedReading,
    LatestValue,
    Resolution,
    RetentionStep,
    ceil_time,
    floor_time,
    merge_parts,
    minutes_touched,
    resolution_for,
)
from telemetry_store.rollup_plan import contiguous_ranges
from telemetry_store.schema import FLAGS_INSERT, FLAGS_SELECT

log = logging.getLogger(__name__)
Conn = psycopg.AsyncConnection[Any]
CAREFUL_BATCHES_AFTER_DUPLICATE = 20


def convert_error(exc: psycopg.Error | PoolTimeout, timeout_s: float) -> StoreError:
    if isinstance(exc, PoolTimeout):
        return StoreUnavailable(f"couldn't get a PostgreSQL connection within {show(timeout_s)} s")
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable(f"PostgreSQL is unavailable: {str(exc).strip()}")
    return StoreError(f"PostgreSQL refused a store operation: {str(exc).strip()}")


async def prepare_connection(conn: Conn) -> None:
    """Give each pooled connection its own staging tables (emptied at every commit)."""
    await conn.execute(sql.CREATE_STAGING)


class TimescaleStore(TelemetryStore):
    """Readings in a TimescaleDB hypertable. Use :func:`telemetry_store.open_store` to get one."""

    backend = "postgresql"
    write_concurrency = 2  # the client prepares a batch while the server stores another (2 cores here)

    def __init__(self, pool: AsyncConnectionPool[Any], settings: StoreSettings, connect_timeout_s: float) -> None:
        self._pool = pool
        self.settings = settings
        self._timeout_s = connect_timeout_s
        self._keys = KeyCache()
        self._careful_batches_left = 0

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        try:
            async with self._pool.connection(timeout=self._timeout_s) as conn:
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            raise convert_error(exc, self._timeout_s) from exc

    async def start(self) -> None:
        """Apply the configured chunk interval (new chunks only) and learn the keys."""
        async with self._connection() as conn:
            try:
                await conn.execute(sql.SET_CHUNK_INTERVAL, (self.settings.chunk_interval,))
            except psycopg.errors.DataError as exc:  # a typo in the setting, not an outage
                raise StoreError(f"store.chunk_interval {self.settings.chunk_interval!r} is not a PostgreSQL"
                                 f" interval: {str(exc).strip()}") from exc
            await self._load_keys(conn, None, None)

    async def _load_keys(self, conn: Conn, device_ids: list[str] | None, metrics: list[str] | None) -> None:
        if device_ids is None:
            cur = await conn.execute("SELECT device_id, device_key FROM device_keys")
        else:
            cur = await conn.execute("SELECT device_id, device_key FROM device_keys WHERE device_id = ANY(%s)",
                                     (device_ids,))
        self._keys.devices.add(await cur.fetchall())
        if metrics is None:
            cur = await conn.execute("SELECT metric, metric_key FROM metric_keys")
        else:
            cur = await conn.execute("SELECT metric, metric_key FROM metric_keys WHERE metric = ANY(%s)", (metrics,))
        self._keys.metrics.add(await cur.fetchall())

    async def _ensure_keys(self, conn: Conn, readings: Sequence[Reading]) -> None:
        devices = list({r.device_id for r in readings} - self._keys.devices.by_id.keys())
        metrics = list({r.metric for r in readings} - self._keys.metrics.by_id.keys())
        if not devices and not metrics:
            return
        async with conn.transaction():
            if devices:
                await conn.execute(sql.ADD_DEVICE_KEYS, (sorted(devices),))
            if metrics:
                await conn.execute(sql.ADD_METRIC_KEYS, (sorted(metrics),))
        await self._load_keys(conn, devices, metrics)

    async def write(self, readings: Sequence[Reading]) -> None:
        """Store a batch in one transaction (see the module docstring).

        Calls may run at once on different connections (:attr:`write_concurrency`; the gateway's store path writes two):
        they lock the last-value rows in device order, so they wait for each other at worst.
        """
        if not readings:
            return
        async with self._connection() as conn:
            await self._write_batch(conn, readings)

    async def _encode(self, conn: Conn, readings: Sequence[Reading]) -> EncodedBatch:
        """The batch as COPY data; names seen for the first time get their keys first."""
        try:
            return encode_batch(readings, self._keys.devices.by_id, self._keys.metrics.by_id)
        except KeyError:
            await self._ensure_keys(conn, readings)
        return encode_batch(readings, self._keys.devices.by_id, self._keys.metrics.by_id)

    async def _write_batch(self, conn: Conn, readings: Sequence[Reading]) -> None:
        try:  # before any I/O: a naive time or a value that is no number fails here
            batch = await self._encode(conn, readings)
            minutes = (minutes_touched(batch.times),)
        except (TypeError, ValueError, OverflowError, struct.error) as exc:
            raise StoreError(f"a reading in the batch is not storable: {exc}") from exc
        try:
            if self._careful_batches_left == 0:
                try:
                    await self._write(conn, batch, minutes, careful=False)
                    return
                except psycopg.errors.UniqueViolation:
                    # Redeliveries come in runs (a gateway replaying its spool): stay careful a while.
                    self._careful_batches_left = CAREFUL_BATCHES_AFTER_DUPLICATE
            self._careful_batches_left = max(0, self._careful_batches_left - 1)
            await self._write(conn, batch, minutes, careful=True)
        except psycopg.DataError as exc:
            raise StoreError(f"a reading in the batch is not storable: {str(exc).strip()}") from exc

    @staticmethod
    async def _write(conn: Conn, batch: EncodedBatch, minutes: tuple[list[datetime]], *, careful: bool) -> None:
        """One transaction: COPY the rows, COPY the newest values per device, then merge.

        The fast form copies straight into the hypertable (a duplicate fails the COPY, and the
        transaction); the careful one into the staging table, and the merge skips what is stored.
        """
        async with conn.transaction():
            async with conn.cursor().copy(sql.COPY_STAGING if careful else sql.COPY_READINGS) as copy:
                await copy.write(batch.rows)
            async with conn.cursor().copy(COPY_LATEST) as copy:
                await copy.write(batch.latest)
            await conn.execute(sql.MERGE_SKIPPING_DUPLICATES if careful else sql.MERGE_LATEST, minutes)

    async def _series_keys(self, conn: Conn, device_id: str, metric: str) -> tuple[int, int] | None:
        device, known_metric = self._keys.devices.by_id.get(device_id), self._keys.metrics.by_id.get(metric)
        if device is None or known_metric is None:  # perhaps written by another process since we looked
            await self._load_keys(conn, [device_id], [metric])
            device, known_metric = self._keys.devices.by_id.get(device_id), self._keys.metrics.by_id.get(metric)
        return None if device is None or known_metric is None else (device, known_metric)

    async def _names(self, conn: Conn, rows: list[tuple[Any, ...]]) -> tuple[KeyMap, KeyMap]:
        if any(row[0] not in self._keys.devices.by_key or row[1] not in self._keys.metrics.by_key for row in rows):
            await self._load_keys(conn, None, None)
        return self._keys.devices, self._keys.metrics

    async def _device_keys(self, conn: Conn, device_ids: Collection[str]) -> list[int]:
        unknown = [d for d in device_ids if d not in self._keys.devices.by_id]
        if unknown:
            await self._load_keys(conn, unknown, [])
        return [self._keys.devices.by_id[d] for d in device_ids if d in self._keys.devices.by_id]

    async def latest(self, device_ids: Collection[str] | None = None) -> list[LatestValue]:
        async with self._connection() as conn:
            if device_ids is None:
                cur = await conn.execute(sql.LATEST_ALL)
            else:
                cur = await conn.execute(sql.LATEST_OF, (await self._device_keys(conn, device_ids),))
            rows = await cur.fetchall()
            devices, metrics = await self._names(conn, rows)
        found = [LatestValue(devices.by_key[d], metrics.by_key[m], ts, value) for d, m, ts, value in rows]
        return sorted(found, key=lambda v: (v.device_id, v.metric))

    async def latest_of_metrics(self, metrics: Collection[str]) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        if not metrics:
            return found
        async with self._connection() as conn:
            cur = await conn.execute(sql.LATEST_OF_METRICS, (list(metrics),))
            for device_id, metric, value in await cur.fetchall():
                found.setdefault(device_id, {})[metric] = value
        return found

    async def last_seen(self, device_ids: Collection[str] | None = None) -> dict[str, datetime]:
        async with self._connection() as conn:
            if device_ids is None:
                cur = await conn.execute(sql.LAST_SEEN_ALL)
            else:
                cur = await conn.execute(sql.LAST_SEEN_OF, (await self._device_keys(conn, device_ids),))
            rows = await cur.fetchall()
            if any(row[0] not in self._keys.devices.by_key for row in rows):
                await self._load_keys(conn, None, None)
        return {self._keys.devices.by_key[d]: ts for d, ts in rows}

    async def history(self, device_id: str, metric: str, start: datetime, end: datetime) -> list[Reading]:
        async with self._connection() as conn:
            keys = await self._series_keys(conn, device_id, metric)
            if keys is None:
                return []
            cur = await conn.execute(sql.HISTORY, (*keys, start, end))
            rows = await cur.fetchall()
        return [Reading(device_id, metric, ts, value) for ts, value in rows]

    async def write_flags(self, flagged: Sequence[FlaggedReading]) -> None:
        if not flagged:
            return
        rows = [(f.device_id, f.metric, f.ts, float(f.value), ",".join(f.flags), f.rule) for f in flagged]
        async with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(FLAGS_INSERT.replace("?", "%s"), rows)

    async def flagged(self, start: datetime, end: datetime, *, device_id: str | None = None,
                      metric: str | None = None, limit: int = 10_000) -> list[FlaggedReading]:
        async with self._connection() as conn:
            cur = await conn.execute(FLAGS_SELECT, (start, end, device_id, device_id, metric, metric, limit))
            rows = await cur.fetchall()
        return [FlaggedReading(d, m, ts, value, tuple(flags.split(",")), rule) for d, m, ts, value, flags, rule in rows]

    async def buckets(
        self, device_id: str, metric: str, start: datetime, end: datetime, bucket: timedelta
    ) -> list[Bucket]:
        resolution = resolution_for(bucket)
        lo, hi = floor_time(start, bucket), ceil_time(end, bucket)
        if hi <= lo:
            return []
        watermarks = await self.rollup_watermarks()
        parts: list[tuple[datetime, float, float, float, int]] = []
        async with self._connection() as conn:
            keys = await self._series_keys(conn, device_id, metric)
            if keys is None:
                return []
            for source, piece_lo, piece_hi in split_by_watermark(lo, hi, resolution, watermarks):
                query = sql.BUCKETS_RAW if source is Resolution.raw else sql.buckets_rollup(TABLES[source])
                cur = await conn.execute(query, (bucket, EPOCH, *keys, piece_lo, piece_hi))
                parts += await cur.fetchall()
        return merge_parts(parts)

    async def rollup_watermarks(self) -> dict[Resolution, datetime]:
        async with self._connection() as conn:
            cur = await conn.execute("SELECT resolution, watermark FROM rollup_state")
            return {Resolution(name): mark for name, mark in await cur.fetchall()}

    async def refresh_rollups(self, now: datetime) -> int:
        rebuilt = 0
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (sql.REFRESH_LOCK_KEY,))
            for resolution, source in ((Resolution.minute, "readings"), (Resolution.hour, "readings_1m")):
                source_resolution = Resolution.raw if resolution is Resolution.minute else Resolution.minute
                await conn.execute(sql.FORGET_MARKS_PAST_RETENTION, (resolution.value, source_resolution.value))
                complete_until = floor_time(now, resolution.width)
                cur = await conn.execute(sql.DIRTY_MARKS, (resolution.value, complete_until))
                marks: list[tuple[datetime, int]] = list(await cur.fetchall())
                if resolution is Resolution.minute and marks:
                    await conn.execute(sql.SUMMARIZE_NEW_RANGES, (marks[0][0],))
                for range_lo, range_hi in contiguous_ranges([m[0] for m in marks], resolution.width):
                    await conn.execute(sql.rebuild_rollup(TABLES[resolution], source, resolution.width),
                                       (range_lo, range_hi))
                if resolution is Resolution.minute and marks:
                    hours = sorted({floor_time(m[0], Resolution.hour.width) for m in marks})
                    await conn.execute(sql.MARK_DIRTY, (Resolution.hour.value, hours))
                if marks:
                    await conn.execute(sql.CLEAR_MARKS, ([m[0] for m in marks], [m[1] for m in marks],
                                                         resolution.value))
                await conn.execute(sql.ADVANCE_WATERMARK, (resolution.value, complete_until))
                rebuilt += len(marks)
        return rebuilt

    async def retention_plan(self, now: datetime) -> list[RetentionStep]:
        return await self._retention(now, apply=False)

    async def apply_retention(self, now: datetime) -> list[RetentionStep]:
        steps = await self._retention(now, apply=True)
        for step in steps:
            if step.drop_count:
                log.info("retention dropped %d chunk(s) of %s older than %s", step.drop_count, step.table,
                         step.cutoff)
        return steps

    async def _retention(self, now: datetime, *, apply: bool) -> list[RetentionStep]:
        steps = []
        async with self._connection() as conn:
            for resolution, keep in retention_keep(self.settings).items():
                table = TABLES[resolution]
                cutoff = None if keep is None else now - keep
                count = 0
                if cutoff is not None:
                    query = sql.DROP_CHUNKS if apply else sql.SHOW_CHUNKS
                    cur = await conn.execute(query, (table, cutoff))
                    row = await cur.fetchone()
                    count = int(row[0]) if row else 0
                    if apply:
                        await conn.execute(sql.RECORD_RETENTION, (resolution.value, cutoff))
                        if resolution is Resolution.raw:  # a flag lives as long as the reading it flags
                            await conn.execute(sql.DROP_FLAGS, (cutoff,))
                steps.append(RetentionStep(resolution, table, keep, cutoff, count, "chunks"))
        return steps
