"""Benchmark: readings/s through the store against a bare COPY and naive INSERTs, in one run.

    streetwatch bench store --readings 500000            # starts its own PostgreSQL
    streetwatch bench store --database-url postgresql://…  # or uses an empty database

The same rows go (1) the way ``streetwatch run`` stores them: each message of 10 readings appended
to a :class:`~gateway.journal.Journal` (fsync'd as the gateway does) and offered to the gateway's
:class:`~gateway.pipeline.StorePipeline`, which writes batches into the TimescaleDB store (COPY into
the hypertable, last-value merge, rollup marks; keys registered beforehand, as a running gateway
knows its devices) and confirms them in the journal; the clock stops when the journal says every
reading is stored. (2) as one bare binary ``COPY`` into a fresh hypertable of the same layout and
indexes — this machine's physical limit — and as two such streams at once, split by device (to
show whether a second connection would raise that limit), and (3) as one autocommitted ``INSERT``
per reading, as many bridges do (a smaller sample; its rate is extrapolated).

The machine is shared and its load moves: every method runs once per round, in an order rotated
from round to round, each after ``VACUUM (ANALYZE)`` and ``CHECKPOINT`` (no method pays for
another's garbage or dirty buffers), and the medians are reported; the store's share of bare COPY
is the median of each round's own ratio (both measured minutes apart, under one load).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.system import test_servers
from gateway.intake.decode import decode_poll, encode_poll
from gateway.intake.journal import Journal, Record, Source
from gateway.intake.pipeline import StorePipeline
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store.opening import open_store

METRICS = ("power_w", "supply_voltage_v", "lamp_current_a", "dim_level_pct", "power_factor", "energy_kwh",
           "controller_temp_c", "signal_quality_pct", "relay_on", "fault_bits")
BASELINE_DDL = """
DROP TABLE IF EXISTS {table};
CREATE TABLE {table} (ts TIMESTAMPTZ NOT NULL, device_key INTEGER NOT NULL, metric_key SMALLINT NOT NULL,
                      value DOUBLE PRECISION NOT NULL);
SELECT create_hypertable('{table}', by_range('ts', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX {table}_series_ts ON {table} (device_key, metric_key, ts DESC);
CREATE INDEX {table}_ts_brin ON {table} USING brin (ts) WITH (autosummarize = on);
"""  # the indexes of readings (telemetry_store.schema, migrations 1 and 4)


def make_readings(count: int, devices: int) -> list[Reading]:
    """Every device reports every metric once a minute, devices spread over the minute."""
    start = datetime(2026, 7, 1, tzinfo=UTC)
    out: list[Reading] = []
    minute = 0
    while len(out) < count:
        for d in range(devices):
            ts = start + timedelta(minutes=minute, microseconds=d * 60_000_000 // devices)
            for m, metric in enumerate(METRICS):
                out.append(Reading(f"lamp-{d:06d}", metric, ts, 230.0 + ((d * 7 + m * 13 + minute) % 97) / 8))
                if len(out) == count:
                    return out
        minute += 1
    return out


def as_messages(readings: list[Reading], message_size: int) -> list[tuple[str, bytes, float, list[Reading]]]:
    """(device, payload, received at, readings) per message, as the intake has them: encoded beforehand."""
    out = []
    for i in range(0, len(readings), message_size):
        part = readings[i : i + message_size]
        out.append((part[0].device_id, encode_poll({r.metric: r.value for r in part}, part[0].ts),
                    part[0].ts.timestamp(), part))
    return out


def _decode(record: Record) -> list[Reading]:
    return decode_poll(record.device_id, record.payload)


async def run_store(url: DatabaseUrl, readings: list[Reading], settings: StoreSettings, message_size: int,
                    *, show_latest: bool) -> float:
    """The gateway's write path (journal, then the store pipeline) from the first append to the last confirmation."""
    messages = as_messages(readings, message_size)
    capacity = max(settings.queue_size, settings.batch_size)
    async with open_store(url, settings, max_connections=6) as store, \
            Journal.open(Path(tempfile.mkdtemp(prefix="bench-journal-"))) as journal:
        batch_written = asyncio.Event()
        pipeline = StorePipeline(journal, store, _decode, batch_size=settings.batch_size,
                                 flush_interval_s=settings.flush_interval_ms / 1000, capacity_readings=capacity,
                                 on_written=lambda _count, _seconds: batch_written.set())
        started = time.perf_counter()
        writer = asyncio.create_task(pipeline.run(), name="store-writer")
        for n, (device_id, payload, received_at, part) in enumerate(messages):
            seq = journal.append_nowait(Source.MODBUS_POLL, device_id, payload, received_at)
            pipeline.offer(seq, part)
            journal.sync_soon()
            if n % 100 == 99:
                # An intake takes messages as they arrive; this one gives the writer its turns and never
                # lets memory overflow (which would send the readings the slower way, through the journal).
                await asyncio.sleep(0)
                while pipeline.queue_depth > capacity - 2 * settings.batch_size:
                    batch_written.clear()
                    await batch_written.wait()
        stored = await pipeline.drain(timeout_s=600)
        await writer
        elapsed = time.perf_counter() - started
        if not stored or pipeline.stored_readings != len(readings):
            raise RuntimeError(f"the store path stored {pipeline.stored_readings} of {len(readings)} readings")
        if pipeline.write_failures:
            print(f"  (the store was unavailable {pipeline.write_failures} time(s) during this run)")
        if show_latest:
            t = time.perf_counter()
            await store.latest([readings[0].device_id])
            one_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            every = await store.latest()
            all_ms = (time.perf_counter() - t) * 1000
            print(f"  latest(): one device {one_ms:.1f} ms; all {len({v.device_id for v in every}):,} devices"
                  f" ({len(every):,} values) {all_ms:.0f} ms")
    return elapsed


async def reset_store(url: str, readings: list[Reading]) -> None:
    """Register every key (a running gateway knows its devices), then empty the store's tables."""
    firsts = list({(r.device_id, r.metric): r for r in readings}.values())
    async with open_store(DatabaseUrl.parse(url), StoreSettings()) as store:
        await store.write(firsts)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("TRUNCATE readings, latest_values, rollup_dirty")


async def _keys(conn: psycopg.AsyncConnection[Any]) -> tuple[dict[str, int], dict[str, int]]:
    devices = dict(await (await conn.execute("SELECT device_id, device_key FROM device_keys")).fetchall())
    metrics = dict(await (await conn.execute("SELECT metric, metric_key FROM metric_keys")).fetchall())
    return devices, metrics


async def create_baseline(url: str, table: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(BASELINE_DDL.format(table=table).encode())


async def settle(url: str) -> None:
    """Start each method from a clean slate: no other method's dirty buffers or garbage to pay for."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM (ANALYZE)")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # a --database-url of a plain user
            await conn.execute("CHECKPOINT")


async def _copy_stream(conn: psycopg.AsyncConnection[Any], readings: list[Reading],
                       keys: tuple[dict[str, int], dict[str, int]]) -> None:
    devices, metrics = keys
    async with (
        conn.transaction(),
        conn.cursor().copy("COPY bench_copy (ts, device_key, metric_key, value) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["timestamptz", "int4", "int2", "float8"])
        for r in readings:
            await copy.write_row((r.ts, devices[r.device_id], metrics[r.metric], r.value))


async def run_bare_copy(url: str, readings: list[Reading], streams: int = 1) -> float:
    """One ``COPY`` per stream (connected beforehand) into ``bench_copy``; streams split by device."""
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(await psycopg.AsyncConnection.connect(url, autocommit=True))
                 for _ in range(streams)]
        keys = await _keys(conns[0])
        parts: list[list[Reading]] = [[] for _ in range(streams)]
        for r in readings:
            parts[keys[0][r.device_id] % streams].append(r)
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for i, (conn, part) in enumerate(zip(conns, parts, strict=True)):
                group.create_task(_copy_stream(conn, part, keys), name=f"bench-copy-{i}")
        return time.perf_counter() - started


async def run_naive(url: str, readings: list[Reading]) -> float:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        devices, metrics = await _keys(conn)
        started = time.perf_counter()
        for r in readings:
            await conn.execute("INSERT INTO bench_naive (ts, device_key, metric_key, value) VALUES (%s, %s, %s, %s)"
                               " ON CONFLICT DO NOTHING", (r.ts, devices[r.device_id], metrics[r.metric], r.value))
        return time.perf_counter() - started


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    postgres_server, _ = test_servers()
    server = postgres_server()
    server.start()
    try:
        yield server.create_database("bench")
    finally:
        server.close()


async def _versions(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        pg = (await (await conn.execute("SHOW server_version")).fetchone() or ["?"])[0]
        ts = (await (await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"))
              .fetchone() or ["?"])[0]
        lic = (await (await conn.execute("SHOW timescaledb.license")).fetchone() or ["?"])[0]
    return f"PostgreSQL {pg}, TimescaleDB {ts} ({lic})"


@dataclass
class Rates:
    """readings/s of each method, one entry per round."""

    by_method: dict[str, list[float]] = field(default_factory=dict)

    def add(self, method: str, count: int, seconds: float) -> float:
        rate = count / seconds
        self.by_method.setdefault(method, []).append(rate)
        return rate

    def median(self, method: str) -> float:
        return statistics.median(self.by_method[method])

    def ratio(self, round_index: int, method: str = "copy") -> float:
        """The store's rate over ``method``'s in one round: both measured minutes apart, under one load."""
        return self.by_method["store"][round_index] / self.by_method[method][round_index]

    def median_ratio(self, method: str = "copy") -> float:
        return statistics.median(self.ratio(r, method) for r in range(len(self.by_method["store"])))


async def run_rounds(url: str, readings: list[Reading], args: argparse.Namespace) -> Rates:
    """Every method once per round, their order rotated from round to round (the machine is shared)."""
    settings = StoreSettings(batch_size=args.batch_size, queue_size=max(100_000, args.batch_size * 4))
    sample = readings[: args.naive_sample]
    prepare: dict[str, Callable[[], Awaitable[None]]] = {
        "store": lambda: reset_store(url, readings),
        "copy": lambda: create_baseline(url, "bench_copy"),
        "copy2": lambda: create_baseline(url, "bench_copy"),
        "naive": lambda: create_baseline(url, "bench_naive"),
    }
    methods: dict[str, Callable[[int], Awaitable[float]]] = {
        "store": lambda r: run_store(DatabaseUrl.parse(url), readings, settings, args.message_size, show_latest=r == 0),
        "copy": lambda r: run_bare_copy(url, readings),
        "copy2": lambda r: run_bare_copy(url, readings, streams=2),
        "naive": lambda r: run_naive(url, sample),
    }
    rates = Rates()
    names = list(methods)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        figures = []
        for name in order:
            await prepare[name]()
            await settle(url)
            seconds = await methods[name](r)
            rate = rates.add(name, len(sample) if name == "naive" else len(readings), seconds)
            figures.append(f"{name} {rate:,.0f}")
        print(f"  round {r + 1}: " + ", ".join(figures) + f" readings/s; store = {rates.ratio(r):.0%} of bare COPY"
              f" (load average {os.getloadavg()[0]:.1f})")
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streetwatch bench store", description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=500_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="each method once per round; medians are shown")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="readings written by naive INSERTs")
    parser.add_argument("--batch-size", type=int, default=StoreSettings().batch_size)
    parser.add_argument("--message-size", type=int, default=10, help="readings per journal record, as per MQTT message")
    parser.add_argument("--database-url", help="an empty TimescaleDB database; default: a throwaway server")
    args = parser.parse_args(argv)
    readings = make_readings(args.readings, args.devices)
    with database(args.database_url) as url:
        print(f"{len(readings):,} readings, {min(args.devices, len(readings)):,} devices x {len(METRICS)} metrics,"
              f" batches of {args.batch_size:,}, {args.rounds} rounds; {asyncio.run(_versions(url))}")
        rates = asyncio.run(run_rounds(url, readings, args))
    copy_rate, store_rate, naive_rate = rates.median("copy"), rates.median("store"), rates.median("naive")
    ratios = [rates.ratio(r) for r in range(args.rounds)]
    print(f"medians of {args.rounds} rounds (the ratios: median of each round's own, range in brackets):")
    print(f"bare COPY:    {copy_rate:>10,.0f} readings/s  (one COPY stream, a hypertable shaped as readings)")
    print(f"store:        {store_rate:>10,.0f} readings/s = {rates.median_ratio():.0%} of bare COPY"
          f"  [{min(ratios):.0%}-{max(ratios):.0%}]")
    print(f"bare COPY x2: {rates.median('copy2'):>10,.0f} readings/s  (two COPY streams at once, split by device;"
          f" the store = {rates.median_ratio('copy2'):.0%} of it)")
    print(f"naive INSERT: {naive_rate:>10,.0f} readings/s  ({min(args.naive_sample, len(readings)):,} readings,"
          f" one autocommitted INSERT each); the store is {store_rate / naive_rate:,.0f}x faster")

if __name__ == "__main__":
    main()
