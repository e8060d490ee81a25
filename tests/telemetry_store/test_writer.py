"""The batch writer on a real store: size and age flushes, backpressure, errors that reach the producer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import StoreUnavailable, StoreWriter, TelemetryStore, WriterClosed, open_store
from tests.fixtures.services import PostgresServer

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FOREVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def readings(count: int, device: str = "lamp-1") -> list[Reading]:
    return [Reading(device, "power_w", T0 + timedelta(seconds=i), float(i)) for i in range(count)]


class GatedStore:
    """The real store behind a gate the test opens: a slow database, on demand."""

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store
        self.gate = asyncio.Event()

    async def write(self, batch: Sequence[Reading]) -> None:
        await self.gate.wait()
        await self.store.write(batch)


async def test_flushes_by_size_without_waiting_for_age(store: TelemetryStore) -> None:
    async with StoreWriter(store, batch_size=10, queue_size=100, flush_interval_s=3600) as writer:
        await writer.put_many(readings(25))
        async with asyncio.timeout(10):
            await writer.wait_written(20)
        assert (writer.written, writer.batches_written, writer.queue_depth) == (20, 2, 5)
        assert len(await store.history("lamp-1", "power_w", *FOREVER)) == 20
        await writer.flush()
        assert await store.history("lamp-1", "power_w", *FOREVER) == readings(25)


async def test_flushes_by_age(store: TelemetryStore) -> None:
    async with StoreWriter(store, batch_size=1000, flush_interval_s=0.05) as writer:
        for reading in readings(3):
            await writer.put(reading)
        async with asyncio.timeout(10):
            await writer.wait_written(3)
        assert writer.batches_written == 1
        assert await store.history("lamp-1", "power_w", *FOREVER) == readings(3)


async def test_leaving_drains_and_then_puts_are_refused(store: TelemetryStore) -> None:
    writer = StoreWriter(store, batch_size=1000, flush_interval_s=3600)
    async with writer:
        await writer.put_many(readings(7))
    assert await store.history("lamp-1", "power_w", *FOREVER) == readings(7)
    with pytest.raises(WriterClosed):
        await writer.put(readings(1)[0])


async def test_a_full_buffer_holds_the_producer_back(store: TelemetryStore) -> None:
    gated = GatedStore(store)
    async with StoreWriter(gated, batch_size=5, queue_size=10, flush_interval_s=3600) as writer:
        producer = asyncio.create_task(writer.put_many(readings(25)), name="producer")
        for _ in range(20):  # let every task run as far as it can
            await asyncio.sleep(0)
        assert not producer.done()
        assert writer.queue_depth == 10
        gated.gate.set()
        async with asyncio.timeout(10):
            await producer
        await writer.flush()
    assert await store.history("lamp-1", "power_w", *FOREVER) == readings(25)


async def test_a_refused_reading_is_set_aside_and_the_rest_written(store: TelemetryStore) -> None:
    naive = Reading("lamp-1", "power_w", datetime(2026, 3, 1, 0, 0, 30), 1.0)  # naive: the bad input
    good = readings(20)
    async with StoreWriter(store, batch_size=100, flush_interval_s=3600) as writer:
        await writer.put_many([*good[:13], naive, *good[13:]])
        await writer.flush()
    assert await store.history("lamp-1", "power_w", *FOREVER) == good
    assert [reading for reading, _ in writer.rejected] == [naive]
    assert "not storable" in str(writer.rejected[0][1])


async def test_an_outage_reaches_the_producer_and_nothing_is_dropped(
    postgres_server: PostgresServer, fresh_pg_url: str
) -> None:
    async with open_store(DatabaseUrl.parse(fresh_pg_url), StoreSettings(), connect_timeout_s=1) as store:
        async with StoreWriter(store, batch_size=100, flush_interval_s=3600, retry_delays_s=(0.0,)) as writer:
            await writer.put_many(readings(10))
            await writer.flush()
            postgres_server.stop()
            try:
                await writer.put_many(readings(30)[10:])
                with pytest.raises(StoreUnavailable, match="20 reading"):
                    await writer.flush()
                with pytest.raises(StoreUnavailable):
                    await writer.put(readings(31)[30])  # refused: the producer keeps (spools) it
                assert writer.pending() == readings(30)[10:]
                with pytest.raises(StoreUnavailable):
                    await store.write(readings(1, device="lamp-2"))
            finally:
                postgres_server.start()
            # The pool reconnects with its own backoff: give the writer's retries time to meet it.
            writer.retry_delays_s = (0.5, 1.0, 2.0, 4.0, 8.0)
            await writer.resume()
            await writer.flush()
        assert await store.history("lamp-1", "power_w", *FOREVER) == readings(30)


class OneGatePerBatch:
    """The real store taking two batches at once; the first ``held`` calls wait at their own gate."""

    write_concurrency = 2

    def __init__(self, store: TelemetryStore, held: int) -> None:
        self.store = store
        self.held = held
        self.gates: list[asyncio.Event] = []
        self.finished: list[int] = []
        self.changed = asyncio.Condition()

    async def write(self, batch: Sequence[Reading]) -> None:
        gate = asyncio.Event()
        async with self.changed:
            number = len(self.gates)
            self.gates.append(gate)
            self.changed.notify_all()
        if number < self.held:
            await gate.wait()
        await self.store.write(batch)
        async with self.changed:
            self.finished.append(number)
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self.changed:
            await self.changed.wait_for(predicate)


async def test_two_batches_at_once_count_as_written_in_order(store: TelemetryStore) -> None:
    gated = OneGatePerBatch(store, held=3)
    async with StoreWriter(gated, batch_size=10, queue_size=100, flush_interval_s=3600) as writer:
        await writer.put_many(readings(25))
        await gated.wait_for(lambda: len(gated.gates) == 2)  # both taken before either is written
        gated.gates[1].set()
        await gated.wait_for(lambda: gated.finished == [1])
        assert len(await store.history("lamp-1", "power_w", *FOREVER)) == 10  # the second batch is stored...
        assert (writer.written, writer.queue_depth) == (0, 25)  # ...but counts only after the first
        gated.gates[0].set()
        async with asyncio.timeout(10):
            await writer.wait_written(20)
        assert (writer.written, writer.batches_written, writer.queue_depth) == (20, 2, 5)
        flushing = asyncio.create_task(writer.flush(), name="flush")  # the last 5 go only when asked
        await gated.wait_for(lambda: len(gated.gates) == 3)
        gated.gates[2].set()
        await flushing
    assert await store.history("lamp-1", "power_w", *FOREVER) == readings(25)


async def test_a_later_batch_stored_before_an_outage_is_kept_and_stored_once(
    postgres_server: PostgresServer, fresh_pg_url: str
) -> None:
    async with open_store(DatabaseUrl.parse(fresh_pg_url), StoreSettings(), connect_timeout_s=1) as store:
        gated = OneGatePerBatch(store, held=2)
        async with StoreWriter(gated, batch_size=10, flush_interval_s=3600, retry_delays_s=(0.0,)) as writer:
            await writer.put_many(readings(20))
            await gated.wait_for(lambda: len(gated.gates) == 2)
            gated.gates[1].set()
            await gated.wait_for(lambda: gated.finished == [1])
            postgres_server.stop()
            try:
                gated.gates[0].set()
                with pytest.raises(StoreUnavailable, match="20 reading"):
                    await writer.flush()
                assert writer.pending() == readings(20)  # the stored second batch is kept too: it comes after
            finally:
                postgres_server.start()
            writer.retry_delays_s = (0.5, 1.0, 2.0, 4.0, 8.0)
            await writer.resume()
            await writer.flush()
        assert await store.history("lamp-1", "power_w", *FOREVER) == readings(20)
