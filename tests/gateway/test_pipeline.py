"""The store path on a real (SQLite) store: memory when all is well, the journal after an overflow, an outage
or a restart; every reading stored exactly once, in journal order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.intake.decode import decode_poll, encode_poll
from gateway.intake.journal import Journal, Record, Source
from gateway.intake.pipeline import StorePipeline
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import StoreUnavailable, TelemetryStore, open_store
from tests.gateway.conftest import eventually

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
FOREVER = (T0 - timedelta(days=1), T0 + timedelta(days=1))


class SwitchedStore:
    """The real store behind a switch: ``down`` raises StoreUnavailable as an unreachable database does;
    ``held`` makes writes wait, as a slow one does."""

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store
        self.down = False
        self.held = asyncio.Event()
        self.held.set()
        self.batches: list[int] = []

    async def write(self, readings: Sequence[Reading]) -> None:
        await self.held.wait()
        if self.down:
            raise StoreUnavailable("the test switched the store off")
        await self.store.write(readings)
        self.batches.append(len(readings))


def decode(record: Record) -> list[Reading]:
    return decode_poll(record.device_id, record.payload)


@asynccontextmanager
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Journal, SwitchedStore, TelemetryStore]]:
    async with open_store(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}"), StoreSettings()) as store, \
            Journal.open(tmp_path / "journal") as journal:
        yield journal, SwitchedStore(store), store


def poll(journal: Journal, pipeline: StorePipeline | None, index: int) -> None:
    """One poll of three metrics, journaled and offered as the poller does."""
    ts = T0 + timedelta(seconds=index)
    values = {"power_w": float(index), "supply_voltage_v": 230.0, "dim_level_pct": float(index % 100)}
    seq = journal.append_nowait(Source.MODBUS_POLL, "LP-1", encode_poll(values, ts), ts.timestamp())
    if pipeline is not None:
        pipeline.offer(seq, [Reading("LP-1", metric, ts, value) for metric, value in values.items()])


async def stored_power(store: TelemetryStore) -> list[float]:
    return [r.value for r in await store.history("LP-1", "power_w", *FOREVER)]


@asynccontextmanager
async def writing(pipeline: StorePipeline) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(pipeline.run(), name="store-writer")
    try:
        yield task
    finally:
        await pipeline.drain(5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_memory_path_stores_in_batches_and_confirms_the_journal(tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=30, flush_interval_s=0.05, capacity_readings=300)
        async with writing(pipeline):
            for i in range(50):
                poll(journal, pipeline, i)
            await eventually(lambda: journal.backlog == 0)
            assert not pipeline.catching_up
        assert await stored_power(store) == [float(i) for i in range(50)]
        assert journal.stored_seq == 50 and pipeline.stored_readings == 150
        assert max(switched.batches) <= 30 + 2  # whole records: a batch may end a record past the size


async def test_a_slow_store_overflows_memory_and_the_journal_catches_up(tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=10, flush_interval_s=0.01, capacity_readings=30)
        switched.held.clear()  # the store takes nothing for now
        async with writing(pipeline):
            for i in range(200):
                poll(journal, pipeline, i)
            assert pipeline.catching_up and pipeline.queue_depth == 0  # memory dropped: the journal has it
            switched.held.set()
            await eventually(lambda: journal.backlog == 0 and not pipeline.catching_up)
            for i in range(200, 210):  # back on the memory path
                poll(journal, pipeline, i)
            await eventually(lambda: journal.backlog == 0)
        assert await stored_power(store) == [float(i) for i in range(210)]


async def test_an_outage_spools_and_recovery_replays_in_order_exactly_once(tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=20, flush_interval_s=0.01,
                                 capacity_readings=100, retry_base_s=0.02, retry_cap_s=0.05)
        async with writing(pipeline):
            for i in range(30):
                poll(journal, pipeline, i)
            await eventually(lambda: journal.backlog == 0)
            switched.down = True
            for i in range(30, 130):
                poll(journal, pipeline, i)
            await eventually(lambda: pipeline.outage and pipeline.catching_up)
            spooled = journal.size_bytes()
            assert journal.backlog == 100 and spooled > 0
            switched.down = False
            await eventually(lambda: journal.backlog == 0 and not pipeline.outage and not pipeline.catching_up)
        assert await stored_power(store) == [float(i) for i in range(130)]
        assert pipeline.write_failures >= 1


async def test_a_restart_writes_the_journal_backlog_first(tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, _switched, _store):
        for i in range(40):
            poll(journal, None, i)  # journaled, never offered: the process died here
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=25, flush_interval_s=0.01)
        assert pipeline.catching_up and journal.backlog == 40
        async with writing(pipeline):
            await eventually(lambda: not pipeline.catching_up)
            poll(journal, pipeline, 40)
            await eventually(lambda: journal.backlog == 0)
        assert await stored_power(store) == [float(i) for i in range(41)]


@pytest.mark.parametrize("store_down", [False, True])
async def test_drain_stores_what_is_in_memory_or_leaves_it_in_the_journal(tmp_path: Path, store_down: bool) -> None:
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=1_000, flush_interval_s=60)
        task = asyncio.create_task(pipeline.run())
        for i in range(10):
            poll(journal, pipeline, i)
        switched.down = store_down
        async with asyncio.timeout(5):
            drained = await pipeline.drain(3)
            await task  # the writer ends after a drain
        assert drained is not store_down
        assert journal.backlog == (10 if store_down else 0)
        assert await stored_power(store) == ([] if store_down else [float(i) for i in range(10)])
        poll(journal, pipeline, 10)  # after the drain nothing more is taken in memory
        assert pipeline.queue_depth == 0


async def test_a_failed_batch_among_concurrent_ones_confirms_nothing_after_it(tmp_path: Path) -> None:
    """Two batches in flight; the first fails, the second succeeds: the journal must not skip the first."""

    class FailsOnce(SwitchedStore):
        calls = 0

        async def write(self, readings: Sequence[Reading]) -> None:
            self.calls += 1
            if self.calls == 1:
                await asyncio.sleep(0.05)  # the second batch completes first
                raise StoreUnavailable("a connection was lost mid-batch")
            await super().write(readings)

    async with setup(tmp_path) as (journal, _switched, store):
        failing = FailsOnce(store)
        pipeline = StorePipeline(journal, failing, decode, batch_size=30, flush_interval_s=0.01,
                                 capacity_readings=300, retry_base_s=0.01, retry_cap_s=0.02, max_concurrent_writes=2)
        for i in range(20):
            poll(journal, pipeline, i)  # 60 readings: two batches, written at once
        async with writing(pipeline):
            await eventually(lambda: journal.backlog == 0 and not pipeline.catching_up)
        assert await stored_power(store) == [float(i) for i in range(20)]
        assert failing.calls >= 3 and pipeline.write_failures == 1
