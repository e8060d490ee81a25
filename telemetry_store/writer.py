"""The write path: a bounded buffer of readings and one named worker that writes them in batches.

Producers (the poller, the MQTT ingest) ``put`` readings; the worker flushes a batch when it has
``batch_size`` readings or when the oldest has waited ``flush_interval``. A store that can take
several batches at once (``write_concurrency``: TimescaleDB, over several connections) gets the
next batch while the previous one is still being written, so the client prepares one while the
database stores the other; batches count as written in order. A full buffer makes ``put`` wait
(backpressure instead of unbounded memory). A batch that fails is retried after each of
``retry_delays_s``; if it still fails the worker stops, keeps the batch (and those after it), and
the error is raised to the producer on its next ``put`` (as psycopg's COPY writer does): nothing is
dropped silently. The producer may then spool :meth:`StoreWriter.pending` or :meth:`StoreWriter.resume`.

A batch the database refuses as bad data (not an outage) is split in halves until the readings
it refuses are alone; those are set aside in :attr:`StoreWriter.rejected`, the rest is written.

>>> async with StoreWriter(store, batch_size=5_000, flush_interval_s=0.2) as writer:  # doctest: +SKIP
...     await writer.put_many(readings)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Protocol

from streetwatch.config import StoreSettings
from streetwatch.readings import Reading
from telemetry_store.errors import StoreError, StoreUnavailable, WriterClosed

log = logging.getLogger(__name__)


class BatchSink(Protocol):
    """What the writer writes to: a :class:`~telemetry_store.TelemetryStore`, or anything that stores batches.

    One with a ``write_concurrency`` attribute above 1 is given that many batches at once.
    """

    async def write(self, readings: Sequence[Reading]) -> None: ...


InFlight = deque[tuple["asyncio.Task[BaseException | None]", int]]  # a batch being written, and its size


class StoreWriter:
    """Batches readings into ``store.write`` from a bounded buffer, in one named task."""

    def __init__(self, store: BatchSink, *, batch_size: int = 5_000, flush_interval_s: float = 0.2,
                 queue_size: int = 100_000, retry_delays_s: Sequence[float] = (0.1, 0.5, 2.0),
                 name: str = "telemetry-store-writer") -> None:
        if batch_size <= 0 or queue_size < batch_size or flush_interval_s <= 0:
            raise ValueError("need batch_size > 0, queue_size >= batch_size and flush_interval_s > 0")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.capacity = queue_size
        self.retry_delays_s = tuple(retry_delays_s)
        self.name = name
        self.concurrency = max(1, int(getattr(store, "write_concurrency", 1)))
        self.rejected: list[tuple[Reading, StoreError]] = []
        self.batches_written = 0
        self._buffer: deque[Reading] = deque()
        self._accepted = 0  # readings ever taken by put
        self._done = 0  # readings ever written or rejected
        self._taken = 0  # readings at the head of the buffer in batches being written
        self._flush_upto = 0
        self._oldest_at = 0.0
        self._closing = False
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._has_data = asyncio.Event()
        self._batch_ready = asyncio.Event()
        self._space = asyncio.Event()
        self._progress = asyncio.Condition()

    @classmethod
    def from_settings(cls, store: BatchSink, settings: StoreSettings) -> StoreWriter:
        return cls(store, batch_size=settings.batch_size, flush_interval_s=settings.flush_interval_ms / 1000,
                   queue_size=max(settings.queue_size, settings.batch_size))

    @property
    def queue_depth(self) -> int:
        """Readings accepted and not written yet (including a batch being written)."""
        return len(self._buffer)

    @property
    def written(self) -> int:
        """Readings the worker has finished with (stored, or set aside in :attr:`rejected`)."""
        return self._done

    def pending(self) -> list[Reading]:
        """The readings not written yet, oldest first: what to spool when the worker has stopped."""
        return list(self._buffer)

    async def __aenter__(self) -> StoreWriter:
        self._start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._closing = True
        self._wake()
        task, self._task = self._task, None
        if task is None:
            return
        if exc_type is not None:  # leaving on an error: don't wait for the database, keep the readings
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return
        await task
        if self._error is not None:
            raise self._failure()

    def _start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def resume(self) -> None:
        """Start again after the worker stopped on an error; the failed batch is written first."""
        if self._task is not None and not self._task.done():
            return
        self._error = None
        self._start()
        self._wake()

    def _failure(self) -> StoreError:
        error = self._error
        if isinstance(error, StoreUnavailable):
            return StoreUnavailable(f"the store writer stopped, {len(self._buffer)} reading(s) kept: {error}")
        return WriterClosed(f"the store writer stopped, {len(self._buffer)} reading(s) kept: {error}")

    def _check(self) -> None:
        if self._error is not None:
            raise self._failure() from self._error
        if self._task is None or self._closing:
            raise WriterClosed("the store writer is not running (use it as `async with StoreWriter(...)`)")

    def _wake(self) -> None:
        self._has_data.set()
        self._batch_ready.set()
        self._space.set()

    async def put(self, reading: Reading) -> None:
        await self.put_many((reading,))

    async def put_many(self, readings: Iterable[Reading]) -> None:
        """Accept readings, waiting while the buffer is full. Raises the worker's error if it stopped."""
        items = readings if isinstance(readings, list | tuple) else list(readings)
        start = 0
        while start < len(items):
            self._check()
            room = self.capacity - len(self._buffer)
            if room <= 0:
                self._space.clear()
                await self._space.wait()
                continue
            taken = items if start == 0 and room >= len(items) else items[start : start + room]
            if len(self._buffer) == self._taken:  # these are the oldest not in a batch yet
                self._oldest_at = asyncio.get_running_loop().time()
            self._buffer.extend(taken)
            self._accepted += len(taken)
            start += len(taken)
            self._has_data.set()
            if len(self._buffer) - self._taken >= self.batch_size:
                self._batch_ready.set()

    async def flush(self) -> None:
        """Wait until every reading accepted so far is written. Raises the worker's error if it stopped."""
        self._check()
        target = self._flush_upto = self._accepted
        self._batch_ready.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._done >= target or self._error is not None)
        if self._error is not None:
            raise self._failure() from self._error

    async def wait_written(self, count: int) -> None:
        """Wait until the worker has finished with ``count`` readings in all (or has stopped)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self._done >= count or self._error is not None
                                          or self._task is None or self._task.done())

    async def _run(self) -> None:
        self._taken = 0
        in_flight: InFlight = deque()
        error: BaseException | None
        try:
            async with asyncio.TaskGroup() as group:  # cancelling the worker cancels its batches
                error = await self._dispatch(group, in_flight)
                for task, _ in in_flight:  # after a failure: their readings stay in the buffer
                    task.cancel()
        except Exception as exc:  # a fault of the worker itself: stop as after a failed batch, never hang
            error = exc
        if error is not None:
            log.error("store writer stopped with %d reading(s) kept: %s", len(self._buffer), error)
            self._taken = 0
            self._error = error
            self._space.set()
            async with self._progress:
                self._progress.notify_all()

    async def _dispatch(self, group: asyncio.TaskGroup, in_flight: InFlight) -> BaseException | None:
        """Start batches and finish them in order until closed and drained, or until one fails for good."""
        loop = asyncio.get_running_loop()
        while True:
            while in_flight and in_flight[0][0].done():
                task, size = in_flight.popleft()
                error = task.result()
                if error is not None:
                    return error
                await self._finished(size)
            waiting = len(self._buffer) - self._taken
            if not waiting and not in_flight:
                if self._closing:
                    return None
                self._has_data.clear()
                await self._has_data.wait()
                continue
            if len(in_flight) == self.concurrency:
                await asyncio.wait([in_flight[0][0]])
                continue
            wait_s = None  # nothing waiting: wake on a full batch, a flush or the oldest batch finishing
            if waiting:
                urgent = self._closing or self._done + self._taken < self._flush_upto
                wait_s = self._oldest_at + self.flush_interval_s - loop.time()
                if waiting >= self.batch_size or urgent or wait_s <= 0:
                    size = min(self.batch_size, waiting)
                    batch = list(itertools.islice(self._buffer, self._taken, self._taken + size))
                    self._taken += size
                    # What is left arrived while the batch was gathered, at the earliest now.
                    self._oldest_at = loop.time()
                    in_flight.append((group.create_task(self._write_batch(batch), name=f"{self.name}-batch"),
                                      size))
                    continue
            await self._wait_for_reason(in_flight[0][0] if in_flight else None, wait_s)

    async def _wait_for_reason(self, oldest: asyncio.Task[BaseException | None] | None,
                               wait_s: float | None) -> None:
        """Until a full batch or a flush is asked for, the oldest batch is done, or ``wait_s`` passed."""
        self._batch_ready.clear()
        ready = asyncio.create_task(self._batch_ready.wait(), name=f"{self.name}-wait")
        try:
            await asyncio.wait([ready] if oldest is None else [ready, oldest], timeout=wait_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()

    async def _finished(self, size: int) -> None:
        for _ in range(size):
            self._buffer.popleft()
        self._taken -= size
        self._done += size
        self.batches_written += 1
        self._space.set()
        async with self._progress:
            self._progress.notify_all()

    async def _write_batch(self, batch: list[Reading]) -> BaseException | None:
        """The error that stopped this batch for good, if any (the worker decides what follows)."""
        try:
            await self._write_with_retries(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        return None

    async def _write_with_retries(self, batch: list[Reading]) -> None:
        for delay_s in (*self.retry_delays_s, None):
            try:
                await self._write_splitting_bad_data(batch)
                return
            except StoreUnavailable as exc:
                if delay_s is None:
                    raise
                log.warning("store unavailable, retrying a batch of %d in %.1f s: %s", len(batch), delay_s, exc)
                await asyncio.sleep(delay_s)  # a backoff between attempts, not a polling loop

    async def _write_splitting_bad_data(self, batch: list[Reading]) -> None:
        try:
            await self.store.write(batch)
        except StoreUnavailable:
            raise
        except StoreError as exc:
            if len(batch) == 1:
                log.error("store refused a reading of %s %s at %s: %s", batch[0].device_id, batch[0].metric,
                          batch[0].ts.isoformat(), exc)
                self.rejected.append((batch[0], exc))
                return
            half = len(batch) // 2
            await self._write_splitting_bad_data(batch[:half])
            await self._write_splitting_bad_data(batch[half:])
