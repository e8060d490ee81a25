"""From the journal to the store: readings in memory when all is well, from disk when it was not.

This is the one path readings take into the telemetry store (the store benchmark runs it too).

The intake appends every accepted message to the :class:`~gateway.intake.journal.Journal` and then
:meth:`StorePipeline.offer` s its readings with the record's sequence number. One writer task
writes them to the store in batches (``batch_size`` readings, or what arrived within
``flush_interval_s``) and confirms each batch with :meth:`Journal.mark_stored`, in order.

While the store is slower than the intake, the intake waits before it takes more once half the
memory queue (``capacity_readings``) is in use (:meth:`StorePipeline.wait_for_room`): what comes next
stays with the broker, which holds unacknowledged messages. A burst is paced that way; a store that
stays behind for ``pace_limit_s`` without catching up is slower than the devices, and the intake stops
waiting so that the journal on disk, not the broker's bounded queue in memory, takes the excess. When
the store is unreachable, or the memory queue is full all the same, the memory copy is dropped: it is
on disk. The writer then
*catches up* from the journal (``read_from(stored_seq + 1)``, parsed again), in order, and goes
back to the memory path once it has reached the journal's end. A restart after a crash starts by
catching up. The store ignores a reading it already has, so writing a batch again is harmless:
every accepted reading ends up in the store exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from gateway.intake.journal import Journal, Record
from streetwatch.backoff import Backoff
from streetwatch.readings import Reading
from telemetry_store import BatchSink, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

Decoder = Callable[[Record], list[Reading]]
Written = Callable[[int, float], None]
"""Told (readings stored, seconds the batch took) after each batch."""


PACE_LIMIT_S = 60.0
"""How long the intake may wait for a store that is behind before the journal takes the excess: what devices
send meanwhile queues at the broker (in memory, ``max_queued_messages``: 100,000 in the generated config, about
a minute of a 10,000-device district's messages beyond what the store takes)."""


class StorePipeline:
    """Readings to the store in journal order; see the module doc. :meth:`run` is the writer task."""

    def __init__(self, journal: Journal, sink: BatchSink, decode: Decoder, *, batch_size: int = 5_000,
                 flush_interval_s: float = 0.2, capacity_readings: int = 100_000, retry_base_s: float = 0.5,
                 retry_cap_s: float = 10.0, max_concurrent_writes: int = 2, on_written: Written | None = None,
                 pace_limit_s: float = PACE_LIMIT_S) -> None:
        if batch_size <= 0 or capacity_readings < batch_size:
            raise ValueError("need batch_size > 0 and capacity_readings >= batch_size")
        self.journal = journal
        self.sink = sink
        self.decode = decode
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.capacity_readings = capacity_readings
        self.on_written = on_written
        self.max_concurrent_writes = max_concurrent_writes
        self.pace_limit_s = pace_limit_s
        self._behind_since: float | None = None  # when the store fell behind (over half the queue), until caught up
        self.retry = Backoff(initial_s=retry_base_s, max_s=retry_cap_s, jitter=0.2)
        self.stored_readings = 0
        self.refused_readings = 0  # bad data the store refused: logged, not stored
        self.write_failures = 0
        self.outage = False  # the store is unreachable now
        self._queue: deque[tuple[int, Sequence[Reading]]] = deque()
        self._queued = 0
        self._oldest_at = 0.0
        self._expected = journal.next_seq
        self._catching_up = journal.backlog > 0
        self._closed = False
        # Batches being written, oldest first, with the last journal record each holds: confirmed in order.
        self._writes: deque[tuple[int, asyncio.Task[bool]]] = deque()
        self._failed = False  # a batch in flight failed: confirm nothing after it
        self._read_seq: int | None = None  # where catching up reads next
        self._has_data = asyncio.Event()
        self._took = asyncio.Event()  # the writer took readings from memory, or stopped taking them there
        self._batch_ready = asyncio.Event()
        self._idle = asyncio.Event()
        if self._catching_up:
            log.info("%d journal record(s) are not in the store yet: writing them first", journal.backlog)

    # -- the intake's side -----------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Readings waiting in memory for the writer."""
        return self._queued

    @property
    def catching_up(self) -> bool:
        """The writer reads from the journal (after an outage, an overflow or a restart)."""
        return self._catching_up

    def offer(self, seq: int, readings: Sequence[Reading]) -> None:
        """Readings of journal record ``seq``, just appended. Never waits; see the module doc."""
        if self._catching_up or self._closed:
            return
        if seq != self._expected:
            self._spill(f"journal record {seq} arrived, {self._expected} was expected")
            return
        if self._queued + len(readings) > self.capacity_readings:
            self._spill(f"{self._queued} readings wait in memory, the store is slower than the intake")
            return
        if not self._queue:
            self._oldest_at = time.monotonic()
        self._queue.append((seq, readings))
        self._queued += len(readings)
        self._expected = seq + 1
        self._idle.clear()
        self._has_data.set()
        if self._queued > self.capacity_readings // 2 and self._behind_since is None:
            self._behind_since = time.monotonic()
        if self._queued >= self.batch_size or self._queued > self.capacity_readings // 2:
            self._batch_ready.set()  # a whole batch, or the intake is about to wait for room: write now

    @property
    def has_room(self) -> bool:
        """Whether the intake may go on now: at most half the memory queue is in use, or the memory path is off."""
        if self._queued <= self.capacity_readings // 2 or self._catching_up or self._closed or self.outage:
            return True
        # Paced for pace_limit_s without catching up: the store is slower than the devices, not briefly behind.
        # The excess goes to the journal on disk from here, not to the broker's bounded queue in memory.
        return self._behind_since is not None and time.monotonic() - self._behind_since >= self.pace_limit_s

    async def wait_for_room(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until :attr:`has_room`; whether it came.

        Waiting is cheaper than the alternative: a full queue is dropped to the journal, and every
        reading is then parsed a second time on its way from the journal to the store, the very CPU
        the store was short of. After ``timeout_s`` the intake goes on (a store that hangs must not
        stop it): the journal takes over as before.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while not self.has_room:
                    self._took.clear()
                    await self._took.wait()
        except TimeoutError:
            return False
        return True

    def _spill(self, why: str) -> None:
        log.warning("store path: readings now go through the journal (%s)", why)
        self._catching_up = True
        self._queue.clear()
        self._queued = 0
        self._behind_since = None
        self._idle.clear()
        self._has_data.set()
        self._batch_ready.set()
        self._took.set()

    # -- the writer ------------------------------------------------------------------------------

    async def run(self) -> None:
        """The writer; returns after :meth:`drain` once nothing is left in memory (or the store is away)."""
        try:
            while True:
                if self._closed and (self._catching_up or not self._queue):
                    await self._settle_all()
                    self._idle.set()  # the journal keeps whatever is not stored yet
                    return
                if self._catching_up:
                    await self._catch_up()
                else:
                    await self._write_from_memory()
        finally:
            for _, task in self._writes:
                task.cancel()

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking readings and wait (at most ``timeout_s``) until what is in memory is stored.

        Returns whether everything accepted is in the store; what is not stays in the journal.
        """
        self._closed = True
        self._batch_ready.set()
        self._took.set()
        self._has_data.set()
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return self.journal.backlog == 0

    async def _write_from_memory(self) -> None:
        if not self._queue:
            if self._writes:
                await self._settle_oldest()
                return
            self._idle.set()
            self._has_data.clear()
            await self._has_data.wait()
            return
        wait_s = self._oldest_at + self.flush_interval_s - time.monotonic()
        if self._queued < self.batch_size and wait_s > 0 and not self._closed:
            self._batch_ready.clear()
            try:
                async with asyncio.timeout(wait_s):
                    await self._batch_ready.wait()
            except TimeoutError:
                pass
            if self._catching_up:
                return
        started_at = time.monotonic()
        batch: list[Reading] = []
        last_seq = 0
        while self._queue and len(batch) < self.batch_size:
            last_seq, readings = self._queue.popleft()
            batch.extend(readings)
        self._queued -= len(batch)
        if self._queued <= self.batch_size:
            self._behind_since = None  # caught up: a later burst may be paced again
        self._took.set()
        self._oldest_at = started_at  # what is left arrived while this batch was taken, at the earliest
        await self._submit(batch, last_seq)

    async def _catch_up(self) -> None:
        if self._read_seq is None:
            await self._settle_all()
            self._read_seq = self.journal.stored_seq + 1
        start = self._read_seq
        end = self.journal.next_seq - 1  # appended (and flushed by the read) before the read began
        records = await self.journal.read_from_async(start, limit=self.batch_size)
        if not records:
            if not await self._settle_all():
                self._read_seq = None
                return
            if start <= end:  # there were records to read, and none could be
                log.error("journal records %d..%d cannot be read back (damaged): they are skipped", start, end)
                self.journal.mark_stored(end)
                self._read_seq = end + 1
            self._caught_up()
            return
        self._read_seq = records[-1].seq + 1
        batch: list[Reading] = []
        for record in records:
            batch.extend(self.decode(record))
            if len(batch) >= self.batch_size:
                await self._submit(batch, record.seq)
                batch = []
        await self._submit(batch, records[-1].seq)
        if self._failed:
            await self._settle_all()
            self._read_seq = None  # read again from what the store confirmed

    async def _submit(self, batch: list[Reading], last_seq: int) -> None:
        """Start writing a batch: at most ``max_concurrent_writes`` at once, confirmed in journal order."""
        while len(self._writes) >= self.max_concurrent_writes:
            await self._settle_oldest()
        task = asyncio.create_task(self._write(batch), name=f"store-write {last_seq}")
        self._writes.append((last_seq, task))

    async def _settle_oldest(self) -> None:
        last_seq, task = self._writes[0]
        try:
            ok = await task
        finally:
            self._writes.popleft()
        if not ok:
            self._failed = True
        elif not self._failed:
            self.journal.mark_stored(last_seq)

    async def _settle_all(self) -> bool:
        """Wait for every batch in flight; whether all were stored (after a failure, the later ones may be
        in the store too, but only the journal knows for sure: they are written again)."""
        while self._writes:
            await self._settle_oldest()
        failed, self._failed = self._failed, False
        return not failed

    def _caught_up(self) -> None:
        # Nothing is awaited from the check to here: no record can be appended in between.
        if self.journal.stored_seq < self.journal.next_seq - 1 or self._closed:
            return
        log.info("store path: the journal is caught up, readings go through memory again")
        self._catching_up = False
        self._read_seq = None
        self._expected = self.journal.next_seq
        self._queue.clear()
        self._queued = 0

    async def _write(self, batch: list[Reading]) -> bool:
        """Store a batch; False when the store is unreachable (the caller goes through the journal)."""
        if not batch:
            return True
        started = time.monotonic()
        try:
            await self._write_isolating_bad_data(batch)
        except StoreUnavailable as exc:
            self.write_failures += 1
            if not self.outage:
                log.error("the store is unavailable, readings are kept in the journal until it is back: %s", exc)
            self.outage = True
            if not self._catching_up:
                self._spill("the store is unavailable")
            retry_at = self.retry.failed(time.monotonic())
            if not self._closed:  # shutting down: no retry, the journal keeps the rest
                await asyncio.sleep(retry_at - time.monotonic())
            return False
        seconds = time.monotonic() - started
        if self.outage:
            log.info("the store is reachable again after %d failed attempt(s)", self.retry.failures)
        self.outage = False
        self.retry.succeeded()
        self.stored_readings += len(batch)
        if self.on_written is not None:
            self.on_written(len(batch), seconds)
        return True

    async def _write_isolating_bad_data(self, batch: list[Reading]) -> None:
        try:
            await self.sink.write(batch)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if len(batch) == 1:
                self.refused_readings += 1
                r = batch[0]
                log.error("the store refused a reading of %s %s at %s: %s", r.device_id, r.metric, r.ts.isoformat(),
                          exc)
                return
            half = len(batch) // 2
            await self._write_isolating_bad_data(batch[:half])
            await self._write_isolating_bad_data(batch[half:])
