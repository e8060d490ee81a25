"""Readings the quality rules flag, written to the telemetry store beside the readings.

The engine must never wait for a database: a flagged reading is appended to a list (a few hundred
nanoseconds) and one named worker writes what has gathered, in batches, in order. While the store is
unavailable the worker retries with backoff and the list grows up to ``max_pending``; beyond that
the oldest flags are dropped and counted (the readings themselves are stored on their own path, and
the device fault alert stands either way). Leaving writes what is pending, then stops.

>>> async with FlagRecorder(store, clock=clock) as flags:     # doctest: +SKIP
...     flags.record("gauge-quality", reading, ("spike",))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from streetwatch.backoff import Backoff
from streetwatch.clock import Clock
from streetwatch.readings import Reading
from telemetry_store import FlaggedReading, StoreUnavailable

log = logging.getLogger(__name__)

BATCH = 1000


class FlagSink(Protocol):
    """Where flagged readings go: the telemetry store."""

    async def write_flags(self, flagged: Sequence[FlaggedReading]) -> None: ...


class FlagRecorder:
    def __init__(self, sink: FlagSink, *, clock: Clock, max_pending: int = 100_000) -> None:
        self._sink = sink
        self._clock = clock
        self.max_pending = max_pending
        self._pending: list[FlaggedReading] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0
        self.written = 0
        self.dropped = 0

    async def __aenter__(self) -> FlagRecorder:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rules-flag-writer")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def record(self, rule: str, reading: Reading, flags: tuple[str, ...]) -> None:
        """Keep ``reading`` with its ``flags`` for the store (never blocks)."""
        self._pending.append(FlaggedReading(reading.device_id, reading.metric, reading.ts, reading.value, flags, rule))
        self.recorded += 1
        if len(self._pending) > self.max_pending:
            over = len(self._pending) - self.max_pending
            del self._pending[:over]
            if not self.dropped:
                log.error("flagged readings: the store has not taken them for a while; dropping the oldest")
            self.dropped += over
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every flag recorded so far is written."""
        await self._idle.wait()

    async def _run(self) -> None:
        backoff = Backoff(initial_s=0.2, max_s=30.0)
        while True:
            if not self._pending:
                self._idle.set()
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._pending[:BATCH]
            try:
                await self._sink.write_flags(batch)
            except StoreUnavailable as exc:
                if self._stopping:
                    log.error("flagged readings: %d not stored, the store is unavailable at stop: %s",
                              len(self._pending), exc)
                    self.dropped += len(self._pending)
                    self._pending.clear()
                    continue
                now = self._clock.monotonic()
                delay = backoff.failed(now) - now
                if backoff.failures == 1:
                    log.warning("flagged readings wait for the store (retry in %.1f s): %s", delay, exc)
                await asyncio.sleep(delay)
                continue
            except Exception:
                log.exception("flagged readings were not stored (%d dropped)", len(batch))
                self.dropped += len(batch)
            else:
                self.written += len(batch)
                backoff = Backoff(initial_s=0.2, max_s=30.0)
            # The list may have been trimmed meanwhile (over max_pending): drop what was handed over, if still there.
            if self._pending[:len(batch)] == batch:
                del self._pending[:len(batch)]
