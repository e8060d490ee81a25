"""Readings and status changes reach every subscriber in order; a slow one is backpressure, a stalled one
loses readings (counted), and a failing one stops the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from gateway.intake.fanout import Fanout, ReadingSubscriber
from gateway.intake.records import StatusChange
from streetwatch.readings import Reading

T0 = datetime(2026, 7, 1, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def on_readings(self, batch: Sequence[Reading]) -> None:
        await self.gate.wait()
        self.seen += [f"{r.device_id}:{r.value:g}" for r in batch]

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        self.seen.append(f"{device_id}:{'online' if online else 'offline'}")


def batch(first: int, count: int = 5) -> list[Reading]:
    return [Reading("LP-1", "power_w", T0, float(i)) for i in range(first, first + count)]


async def test_in_order_to_each_and_a_stalled_one_does_not_hold_the_others() -> None:
    fast, slow = Recorder(), Recorder()
    assert isinstance(fast, ReadingSubscriber)
    slow.gate.clear()
    fanout = Fanout(capacity_readings=10, stall_after_s=0.2)
    fanout.add("fast", fast)
    fanout.add("slow", slow)
    runner = asyncio.create_task(fanout.run())
    await fanout.publish(batch(0))
    fanout.publish_status(StatusChange("LP-1", False, T0, "modbus"))
    for first in range(5, 30, 5):
        await fanout.publish(batch(first))  # waits 0.2 s once, then the slow one is stalled
    await asyncio.sleep(0.05)
    assert fast.seen == ["LP-1:0", "LP-1:1", "LP-1:2", "LP-1:3", "LP-1:4", "LP-1:offline",
                         *(f"LP-1:{i}" for i in range(5, 30))]
    slow_sub = fanout.subscriptions[1]
    assert slow_sub.stalled and slow_sub.dropped_readings == 20  # 10 fit its queue, four batches did not
    slow.gate.set()
    await asyncio.sleep(0.05)
    assert not slow_sub.stalled
    assert slow.seen == ["LP-1:0", "LP-1:1", "LP-1:2", "LP-1:3", "LP-1:4", "LP-1:offline",
                         "LP-1:5", "LP-1:6", "LP-1:7", "LP-1:8", "LP-1:9"]
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


async def test_a_subscriber_error_is_not_hidden() -> None:
    class Broken(Recorder):
        async def on_readings(self, batch: Sequence[Reading]) -> None:
            raise ValueError("a bug in a rule")

    fanout = Fanout()
    fanout.add("broken", Broken())
    runner = asyncio.create_task(fanout.run())
    await fanout.publish(batch(0))
    with pytest.raises(ExceptionGroup) as caught:
        await asyncio.wait_for(runner, 5)
    assert caught.group_contains(ValueError, match="a bug in a rule")
