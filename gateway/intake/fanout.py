"""Readings, online/offline changes and refused register blocks, handed to the services that want them.

Each subscriber has its own bounded queue and its own task, so a slow one never slows another,
and the intake never waits for one while it keeps up. A full queue is backpressure: the intake
waits (the broker holds the messages meanwhile). A subscriber that takes nothing for
``stall_after_s`` is stalled: what it cannot take is dropped and counted, logged once, until it
takes again. An error raised by a subscriber stops the gateway (a bug must not be hidden);
the journal keeps every accepted reading through the restart.

>>> class Printer:                                                # doctest: +SKIP
...     async def on_readings(self, batch): print(len(batch), "readings")
...     async def on_status(self, device_id, online, at): print(device_id, online)
>>> fanout.add("printer", Printer())                               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from gateway.intake.records import StatusChange
from streetwatch.block_faults import BlockFault
from streetwatch.figures import show
from streetwatch.readings import Reading

log = logging.getLogger(__name__)


@runtime_checkable
class ReadingSubscriber(Protocol):
    """What a service implements to receive the gateway's readings and device online/offline changes."""

    async def on_readings(self, batch: Sequence[Reading]) -> None:
        """Readings as they arrive (a poll, or a few MQTT messages), newest last."""
        ...

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        """A device went online or offline at ``at``."""
        ...


@runtime_checkable
class FaultSubscriber(Protocol):
    """A subscriber that also wants to hear of register blocks a device refuses (the rules engine)."""

    async def on_block_fault(self, fault: BlockFault) -> None:
        """A block started being refused at every poll, or answers again (``fault.answered``)."""
        ...


Event = Sequence[Reading] | StatusChange | BlockFault


@dataclass(eq=False)
class Subscription:
    name: str
    subscriber: ReadingSubscriber
    capacity_readings: int
    queue: deque[Event] = field(default_factory=deque)
    queued_readings: int = 0
    delivered_readings: int = 0
    dropped_readings: int = 0
    stalled: bool = False
    has_items: asyncio.Event = field(default_factory=asyncio.Event)
    took: asyncio.Event = field(default_factory=asyncio.Event)

    def has_room(self, count: int) -> bool:
        return self.queued_readings + count <= self.capacity_readings or not self.queue


class Fanout:
    """Delivers to every subscriber added; :meth:`run` is the task group of their workers."""

    def __init__(self, *, capacity_readings: int = 50_000, max_status_changes: int = 100_000,
                 stall_after_s: float = 5.0) -> None:
        self.capacity_readings = capacity_readings
        self.max_status_changes = max_status_changes
        self.stall_after_s = stall_after_s
        self.subscriptions: list[Subscription] = []

    def add(self, name: str, subscriber: ReadingSubscriber) -> None:
        self.subscriptions.append(Subscription(name, subscriber, self.capacity_readings))

    async def publish(self, batch: Sequence[Reading]) -> None:
        """Hand a batch to every subscriber; waits only while a (not stalled) subscriber's queue is full."""
        if not batch:
            return
        for sub in self.subscriptions:
            if not sub.has_room(len(batch)) and not sub.stalled:
                await self._wait_for_room(sub, len(batch))
            if sub.has_room(len(batch)):
                sub.queue.append(batch)
                sub.queued_readings += len(batch)
                sub.has_items.set()
            else:
                sub.dropped_readings += len(batch)

    async def _wait_for_room(self, sub: Subscription, count: int) -> None:
        try:
            async with asyncio.timeout(self.stall_after_s):
                while not sub.has_room(count):
                    sub.took.clear()
                    await sub.took.wait()
        except TimeoutError:
            sub.stalled = True
            log.error("subscriber %s took nothing for %s s: its readings are dropped until it catches up",
                      sub.name, show(self.stall_after_s))

    def publish_status(self, change: StatusChange) -> None:
        for sub in self.subscriptions:
            if len(sub.queue) < self.max_status_changes:
                sub.queue.append(change)
                sub.has_items.set()

    def publish_fault(self, fault: BlockFault) -> None:
        """A register block refused or answering again, to the subscribers that want it (:class:`FaultSubscriber`)."""
        for sub in self.subscriptions:
            if isinstance(sub.subscriber, FaultSubscriber) and len(sub.queue) < self.max_status_changes:
                sub.queue.append(fault)
                sub.has_items.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for sub in self.subscriptions:
                group.create_task(self._deliver(sub), name=f"subscriber {sub.name}")

    async def _deliver(self, sub: Subscription) -> None:
        while True:
            if not sub.queue:
                sub.has_items.clear()
                await sub.has_items.wait()
                continue
            item = sub.queue[0]
            if isinstance(item, StatusChange):
                await sub.subscriber.on_status(item.device_id, item.online, item.at)
            elif isinstance(item, BlockFault):
                if isinstance(sub.subscriber, FaultSubscriber):
                    await sub.subscriber.on_block_fault(item)
            else:
                await sub.subscriber.on_readings(item)
                sub.queued_readings -= len(item)
                sub.delivered_readings += len(item)
            sub.queue.popleft()
            sub.took.set()
            if sub.stalled:
                sub.stalled = False
                log.info("subscriber %s is taking readings again (%d dropped meanwhile)", sub.name,
                         sub.dropped_readings)
