"""Backpressure on the store path: the intake waits for room while the store is slow, instead of the memory
queue spilling to the journal (where every reading would be parsed again), and stops waiting when it must."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.intake.pipeline import StorePipeline
from tests.gateway.conftest import eventually
from tests.gateway.test_pipeline import decode, poll, setup, stored_power, writing


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
