"""Backpressure on the store path: the intake waits for room while the store is slow, instead of the memory
queue spilling to the journal (where every reading would be parsed again), and stops waiting when it must:
after a timeout, at an outage, and once a store slower than the devices has been paced long enough."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from gateway.intake.pipeline import StorePipeline
from streetwatch.readings import Reading
from tests.gateway.conftest import eventually
from tests.gateway.test_pipeline import SwitchedStore, decode, poll, setup, stored_power, writing


async def test_a_slow_store_makes_the_intake_wait_and_nothing_goes_through_the_journal(tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=10, flush_interval_s=0.01, capacity_readings=60)
        switched.held.clear()  # the store takes nothing for now
        async with writing(pipeline):
            index = 0
            while pipeline.has_room and index < 100:  # the intake: a poll (3 readings) at a time while there is room
                poll(journal, pipeline, index)
                index += 1
                await asyncio.sleep(0.01)  # the writer takes what it can: two batches, held by the store
            assert pipeline.queue_depth > 30 and not pipeline.catching_up
            waiting = asyncio.create_task(pipeline.wait_for_room(5.0))
            await asyncio.sleep(0.1)
            assert not waiting.done()  # the store has taken nothing: no room
            switched.held.set()
            assert await waiting
            for i in range(index, 200):
                if not pipeline.has_room:
                    assert await pipeline.wait_for_room(5.0)
                poll(journal, pipeline, i)
                assert not pipeline.catching_up
            await eventually(lambda: journal.backlog == 0)
            assert not pipeline.catching_up
        assert await stored_power(store) == [float(i) for i in range(200)]


async def test_the_wait_ends_after_its_timeout_and_at_an_outage(tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, switched, store):
        pipeline = StorePipeline(journal, switched, decode, batch_size=10, flush_interval_s=0.01, capacity_readings=100,
                                 retry_base_s=0.02, retry_cap_s=0.05)
        switched.held.clear()
        async with writing(pipeline):
            for i in range(30):
                poll(journal, pipeline, i)
            assert not pipeline.has_room
            # The writer takes three batches of 12 (two held by the store, one waiting to be written): 54 left.
            assert not await pipeline.wait_for_room(0.05)  # a store that hangs does not stop the intake
            assert pipeline.queue_depth == 54
            switched.down = True
            switched.held.set()  # the held writes fail: an outage, the journal takes over, no waiting
            assert await pipeline.wait_for_room(5.0)
            assert pipeline.has_room and pipeline.catching_up
            switched.down = False
            await eventually(lambda: journal.backlog == 0 and not pipeline.catching_up)
        assert await stored_power(store) == [float(i) for i in range(30)]


class SlowStore(SwitchedStore):
    """Takes every batch, but 50 ms each: slower than the intake below, never down."""

    async def write(self, readings: Sequence[Reading]) -> None:
        await asyncio.sleep(0.05)
        await super().write(readings)


async def test_a_store_slower_than_the_devices_is_paced_only_for_a_while_then_the_journal_takes_the_excess(
        tmp_path: Path) -> None:
    async with setup(tmp_path) as (journal, _, store):
        pipeline = StorePipeline(journal, SlowStore(store), decode, batch_size=10, flush_interval_s=0.01,
                                 capacity_readings=60, max_concurrent_writes=1, pace_limit_s=0.5)
        async with writing(pipeline):
            started, waited, index = time.monotonic(), 0.0, 0
            while not pipeline.catching_up:  # the intake: 3 readings every 5 ms, waiting while it must
                assert time.monotonic() - started < 10, "the intake was paced for good: the broker would overflow"
                if not pipeline.has_room:
                    before = time.monotonic()
                    assert await pipeline.wait_for_room(5.0)  # the store takes a batch: room again
                    waited += time.monotonic() - before
                poll(journal, pipeline, index)
                index += 1
                await asyncio.sleep(0.005)
            # Paced at first (a burst would have ended there), then the excess went to the journal.
            assert waited >= 0.2
            assert time.monotonic() - started >= 0.5
            for i in range(index, index + 50):
                assert pipeline.has_room  # the journal takes it: no waiting while the writer catches up
                poll(journal, pipeline, i)
            index += 50
            await eventually(lambda: journal.backlog == 0, timeout_s=30)
        assert await stored_power(store) == [float(i) for i in range(index)]
