"""The Modbus poller: every registered Modbus device read at its own interval, none holding up another.

- **Schedule.** Each device starts at a random point of its first interval (no thundering herd at
  the top of the minute) and keeps that phase, with a little jitter. One scheduler task keeps a
  heap of due times: 100,000 devices cost 100,000 heap entries, not 100,000 sleeping tasks.
- **Buses.** A due device joins the queue of its bus. A bus with work has one worker task that
  polls its devices one at a time (a serial line or converter carries one request at a time;
  :class:`~device_drivers.modbus.ModbusBus` also holds a lock). Independent TCP devices are buses
  of their own, polled concurrently, at most ``concurrency`` requests at once. The buses come from
  the gateway's one :class:`~device_drivers.modbus.BusPool`, which the command dispatcher shares:
  a command to a lamp behind a converter takes its turn on the poller's connection, never a second one.
- **Isolation.** Each request has a timeout, each poll a deadline; a device that does not answer
  costs its own bus that time, never another bus. After ``offline_after_failures`` failed polls
  in a row it is offline and is retried with exponential backoff (from its interval up to
  ``max_backoff_s``, with jitter); the first answer brings it back to its interval.
- **Results.** A poll's values are journaled (as a telemetry-shaped JSON object), offered to the
  store path and handed to the subscribers; its success or failure goes to the device states.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from device_drivers.errors import DriverError
from device_drivers.modbus import BusPool, DeviceSample, read_device
from gateway.intake.decode import encode_poll
from gateway.intake.device_state import DeviceStates
from gateway.intake.directory import DeviceDirectory, DirectoryChange
from gateway.intake.entry import DeviceEntry
from gateway.intake.fanout import Fanout
from gateway.intake.journal import Journal, JournalFull, Source
from gateway.intake.pipeline import StorePipeline
from gateway.intake.records import DeadLetter
from streetwatch.backoff import backoff_delay_s
from streetwatch.clock import Clock
from streetwatch.figures import show
from streetwatch.readings import Reading

log = logging.getLogger(__name__)

MODBUS_EXCEPTION = "modbus_exception"  # the dead-letter reason for registers a device refused


@dataclass(slots=True, eq=False)
class _Target:
    entry: DeviceEntry
    due: float  # monotonic seconds; not changed while the target is in the heap
    failures: int = 0

    def __lt__(self, other: _Target) -> bool:
        # The heap holds the targets themselves, not (due, order, target) tuples: 80,000 polled devices kept
        # a tuple and a counter each (about 9 MB; issue #21). Each is in the heap at most once: pushed when
        # planned, popped when due, pushed again when its poll is over.
        return self.due < other.due


@dataclass
class PollStats:
    polls: int = 0
    readings: int = 0
    partial_polls: int = 0  # answered, but with a block refused
    failures: Counter[str] = field(default_factory=Counter)  # by error class
    journal_full: int = 0  # polls whose values the full journal could not take


class ModbusPoller:
    """Polls the directory's Modbus devices; :meth:`run` is the task, :meth:`stop` ends it."""

    def __init__(self, *, directory: DeviceDirectory, buses: BusPool, journal: Journal, pipeline: StorePipeline,
                 states: DeviceStates, fanout: Fanout, clock: Clock, concurrency: int = 200,
                 offline_after_failures: int = 3, max_backoff_s: float = 300.0, rng: random.Random | None = None,
                 observe_latency: Callable[[float], None] | None = None,
                 dead_letter: Callable[[DeadLetter], None] | None = None) -> None:
        self.directory = directory
        self.buses = buses
        self.journal = journal
        self.pipeline = pipeline
        self.states = states
        self.fanout = fanout
        self.clock = clock
        self.concurrency = concurrency
        self.timeout_s = buses.settings.timeout_s  # each request's; a whole poll gets a deadline from it
        self.offline_after_failures = offline_after_failures
        self.max_backoff_s = max_backoff_s
        self.rng = rng or random.Random()
        self.observe_latency = observe_latency
        self.dead_letter = dead_letter
        self.stats = PollStats()
        self._targets: dict[str, _Target] = {}
        self._heap: list[_Target] = []
        self._bus_queues: dict[str, deque[_Target]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._polled_buses: set[str] = set()  # keys of the buses this poller has used
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._unusable: set[str] = set()
        self._idle_buses: list[str] = []  # keys no device is polled on any more: to disconnect
        self.in_flight = 0

    @property
    def devices(self) -> int:
        return len(self._targets)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # -- which devices -----------------------------------------------------------------------------

    def reconcile(self, change: DirectoryChange | None = None) -> None:
        """Start polling added devices, re-plan changed ones, drop removed ones (None: take the whole directory)."""
        now = self.clock.monotonic()
        if change is None:
            entries = [e for e in self.directory if e.is_modbus]
            gone = [d for d in self._targets if self.directory.get(d) is None]
        else:
            entries = [e for e in (*change.added, *change.changed) if e.is_modbus]
            gone = list(change.removed) + [e.id for e in change.changed if not e.is_modbus]
        for device_id in gone:
            self._targets.pop(device_id, None)
        for entry in entries:
            before = self._targets.get(entry.id)
            if before is not None and before.entry.polled_as == entry.polled_as:
                before.entry = entry  # e.g. a tag or the site changed: its polls go on as planned
                continue
            target = _Target(entry, now + self.rng.uniform(0.0, entry.poll_interval_s))
            self._targets[entry.id] = target
            heapq.heappush(self._heap, target)
        if change is not None and change.profiles_changed:
            self._unusable.clear()
        self._close_idle_buses()
        self._wake.set()

    def _close_idle_buses(self) -> None:
        in_use = {t.entry.endpoint.key for t in self._targets.values() if t.entry.endpoint is not None}
        for key in [k for k in self._polled_buses if k not in in_use and k not in self._workers]:
            self._polled_buses.discard(key)
            self._idle_buses.append(key)  # disconnected by the scheduler; the pool keeps the bus

    # -- the scheduler -----------------------------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while not self._stopping:
                while self._idle_buses:
                    await self.buses.disconnect(self._idle_buses.pop())
                timeout_s = self._dispatch(group)
                self._wake.clear()
                try:
                    async with asyncio.timeout(timeout_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            for worker in self._workers.values():
                worker.cancel()

    def _dispatch(self, group: asyncio.TaskGroup) -> float | None:
        """Queue every due device on its bus, start idle buses' workers; return seconds to the next due time."""
        now = self.clock.monotonic()
        heap = self._heap
        while heap and heap[0].due <= now:
            target = heapq.heappop(heap)
            if self._targets.get(target.entry.id) is not target or target.entry.endpoint is None:
                continue  # removed or re-planned since
            key = target.entry.endpoint.key
            self._bus_queues.setdefault(key, deque()).append(target)
            if key not in self._workers:
                self._workers[key] = group.create_task(self._bus_worker(key), name=f"modbus {key}")
        return max(0.0, heap[0].due - now) if heap else None

    async def _bus_worker(self, key: str) -> None:
        queue = self._bus_queues[key]
        try:
            while queue and not self._stopping:
                target = queue.popleft()
                if self._targets.get(target.entry.id) is not target:
                    continue
                async with self._slots:
                    self.in_flight += 1
                    try:
                        readings = await self._poll(target)
                    finally:
                        self.in_flight -= 1
                self._schedule(target)
                if readings:
                    await self.fanout.publish(readings)
        finally:
            del self._workers[key]
            if not queue:
                self._bus_queues.pop(key, None)

    def _schedule(self, target: _Target) -> None:
        now = self.clock.monotonic()
        interval = target.entry.poll_interval_s
        if target.failures >= self.offline_after_failures:
            attempt = target.failures - self.offline_after_failures + 1
            target.due = now + backoff_delay_s(attempt, initial_s=interval,
                                               max_s=max(interval, self.max_backoff_s), jitter=0.2, rng=self.rng)
        else:
            jitter = min(0.02 * interval, 0.5)
            target.due = max(target.due + interval, now) + self.rng.uniform(-jitter, jitter)
        heapq.heappush(self._heap, target)
        if self._heap[0] is target:
            self._wake.set()

    # -- one poll ----------------------------------------------------------------------------------

    def _refused(self, entry: DeviceEntry, sample: DeviceSample) -> None:
        """A poll answered in part: count it, and set each metric the device refused aside as a dead letter."""
        self.stats.partial_polls += 1
        if self.dead_letter is None:
            return
        where = entry.endpoint.key if entry.endpoint is not None else ""
        for block, refused in sample.refused.items():
            for metric in refused.metrics:
                self.dead_letter(DeadLetter(sample.ts, entry.id, f"{where} unit {entry.unit}", MODBUS_EXCEPTION,
                                            metric, f"{block}: {refused.reason}", ""))

    async def _poll(self, target: _Target) -> list[Reading]:
        entry = target.entry
        assert entry.endpoint is not None
        profile = self.directory.profile(entry.profile)
        if profile is None or profile.modbus is None:
            if entry.id not in self._unusable:
                self._unusable.add(entry.id)
                log.error("device %s cannot be polled: profile %s has no [modbus] section or cannot be used",
                          entry.id, entry.profile, extra={"device_id": entry.id})
            target.failures = 0
            return []
        bus = await self.buses.bus_at(entry.endpoint)
        self._polled_buses.add(entry.endpoint.key)
        started = self.clock.monotonic()
        self.stats.polls += 1
        try:
            # Each request has its own timeout; the deadline bounds a device answering slowly to each.
            async with asyncio.timeout(4 * self.timeout_s + 1.0):
                sample = await read_device(bus, entry.unit, profile, clock=self.clock)
        except (DriverError, TimeoutError) as exc:
            target.failures += 1
            self.stats.failures[type(exc).__name__] += 1
            why = str(exc) or f"no complete answer within {show(4 * self.timeout_s + 1.0)} s"
            if self._targets.get(entry.id) is target:  # retired meanwhile: its state is gone and stays gone
                self.states.poll_failed(entry.id, self.clock.now(), why)
            return []
        if self.observe_latency is not None:
            self.observe_latency(self.clock.monotonic() - started)
        target.failures = 0
        readings = sample.readings(entry.id)
        if readings:
            try:
                seq = self.journal.append_nowait(Source.MODBUS_POLL, entry.id,
                                                 encode_poll(sample.values, sample.ts), sample.ts.timestamp())
            except JournalFull as exc:
                self.stats.journal_full += 1
                if self.stats.journal_full == 1 or self.stats.journal_full % 1000 == 0:
                    log.error("poll of %s not kept (%d so far): %s", entry.id, self.stats.journal_full, exc)
                return []
            self.pipeline.offer(seq, readings)
            self.journal.sync_soon()
            self.stats.readings += len(readings)
        if sample.errors:
            log.debug("device %s: no value for %s", entry.id, ", ".join(f"{m} ({e})" for m, e in sample.errors.items()))
        if sample.refused:
            self._refused(entry, sample)
        if self._targets.get(entry.id) is target:  # a poll under way when the device was retired finishes quietly
            self.states.poll_succeeded(entry.id, sample.ts,
                                       {block: (r.reason, r.metrics) for block, r in sample.refused.items()})
        return readings
