"""Writes what the gateway learns about its traffic (dead letters, unregistered senders, online/offline
changes) to the database in batches, from one task, without ever holding up the intake.

Buffers are bounded: when the database is away longer than the buffers last, the oldest entries are
dropped and counted (:attr:`Recorder.dropped`). These are diagnostics; readings never pass here.
Rejections of one device, reason and metric within a minute are one row with a count, so a device
that sends the same bad payload every second costs one row a minute, and memory holds at most
``max_buffered`` distinct rows whatever arrives.

A row the database refuses (it should not happen: texts are made storable first) must not block
the others: a batch that fails for its data is written again row by row, and only the rows that
fail alone are dropped and counted (:attr:`Recorder.refused_rows`). :attr:`Recorder.failing` is
set while nothing can be written; the gateway's ``/health`` and metrics show both.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.intake.records import DeadLetter, GatewayRecords, PendingDevice, StatusChange
from streetwatch.clock import Clock
from streetwatch.database import DatabaseError, DatabaseUnavailable

_Row = TypeVar("_Row")

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Letter:
    letter: DeadLetter
    count: int


@dataclass(slots=True)
class _Sighting:
    first_seen: datetime
    last_seen: datetime
    messages: int
    last_topic: str


class Recorder:
    """Batches rows for :class:`GatewayRecords`; :meth:`run` is the task that writes them."""

    def __init__(self, records: GatewayRecords, *, clock: Clock, flush_interval_s: float = 1.0,
                 max_buffered: int = 10_000, dead_letter_retention: timedelta = timedelta(days=30),
                 prune_every: timedelta = timedelta(hours=1), max_pending_devices: int = 10_000) -> None:
        self.records = records
        self.clock = clock
        self.flush_interval_s = flush_interval_s
        self.max_buffered = max_buffered
        self.dead_letter_retention = dead_letter_retention
        self.prune_every = prune_every
        self.max_pending_devices = max_pending_devices
        self.dropped = 0
        self.refused_rows = 0  # rows the database refused alone: dropped
        self.last_error = ""
        self._letters: dict[str, _Letter] = {}
        self._changes: deque[StatusChange] = deque()
        self._sightings: dict[str, _Sighting] = {}
        self._registered: set[str] = set()
        self._wake = asyncio.Event()
        self._failing = False
        self._refusing = False  # the last flush had rows refused
        self._next_prune: datetime | None = None
        self._lock = asyncio.Lock()

    # -- what the intake hands over (never waits) -------------------------------------------------

    def dead_letter(self, letter: DeadLetter) -> None:
        key = letter.window_key
        kept = self._letters.get(key)
        if kept is not None:
            kept.count += letter.count
            return
        if len(self._letters) >= self.max_buffered:
            del self._letters[next(iter(self._letters))]  # the oldest
            self.dropped += 1
        self._letters[key] = _Letter(letter, letter.count)
        self._nudge()

    def sighting(self, device_id: str, topic: str, at: datetime) -> None:
        """A message from ``device_id``, which is not registered."""
        seen = self._sightings.get(device_id)
        if seen is None:
            if len(self._sightings) >= self.max_buffered:
                self.dropped += 1
                return
            self._sightings[device_id] = _Sighting(at, at, 1, topic)
            return
        seen.last_seen, seen.last_topic = at, topic
        seen.messages += 1

    def registered(self, device_ids: set[str]) -> None:
        """These devices are registered now: take them off the pending list at the next flush."""
        self._registered |= device_ids
        for device_id in device_ids:
            self._sightings.pop(device_id, None)
        self._nudge()

    def status_change(self, change: StatusChange) -> None:
        if len(self._changes) >= self.max_buffered:
            self._changes.popleft()
            self.dropped += 1
        self._changes.append(change)
        self._nudge()

    @property
    def failing(self) -> bool:
        """The last attempt wrote nothing (the database is away) or had rows refused."""
        return self._failing or self._refusing

    @property
    def buffered(self) -> int:
        return len(self._letters) + len(self._changes) + len(self._sightings)

    def _nudge(self) -> None:
        if len(self._letters) + len(self._changes) >= 1_000:
            self._wake.set()

    # -- writing ---------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> bool:
        """Write everything buffered; False (and the rows kept) when the database is away."""
        async with self._lock:
            changes = list(self._changes)
            letters = [(key, kept.count) for key, kept in self._letters.items()]
            sightings = [PendingDevice(device_id, s.first_seen, s.last_seen, s.messages, s.last_topic)
                         for device_id, s in self._sightings.items()]
            registered = sorted(self._registered)
            refused_before = self.refused_rows
            try:
                await self._isolating(self.records.add_status_changes, changes)
                for _ in changes:
                    self._changes.popleft()
                await self._isolating(self.records.add_dead_letters,
                                      [replace(self._letters[key].letter, count=count) for key, count in letters])
                for key, count in letters:
                    kept = self._letters.get(key)  # None: pushed out meanwhile (counted as dropped)
                    if kept is not None:
                        kept.count -= count  # what arrived meanwhile is added to the row at the next flush
                        if kept.count <= 0:
                            del self._letters[key]
                await self._isolating(self.records.add_pending, sightings)
                for pending in sightings:
                    seen = self._sightings.get(pending.device_id)
                    if seen is not None:
                        seen.messages -= pending.messages
                        if seen.messages <= 0:
                            del self._sightings[pending.device_id]
                if sightings:
                    await self.records.cap_pending(self.max_pending_devices)
                await self.records.forget_pending(registered)
                self._registered -= set(registered)
                await self._prune()
            except DatabaseError as exc:
                if not self._failing:
                    log.error("cannot record gateway events, keeping up to %d in memory: %s", self.max_buffered, exc)
                self._failing = True
                self.last_error = str(exc)[:200]
                return False
            if self._failing:
                log.info("recording gateway events again")
            self._failing = False
            self._refusing = self.refused_rows > refused_before
            return True

    async def _isolating(self, write: Callable[[Sequence[_Row]], Awaitable[None]], rows: Sequence[_Row]) -> None:
        """``write(rows)``; when the data is refused, each row alone, dropping (and counting) those refused."""
        if not rows:
            return
        try:
            await write(rows)
            return
        except DatabaseUnavailable:
            raise
        except DatabaseError as exc:
            if len(rows) == 1:
                self._refused(rows[0], exc)
                return
        for row in rows:
            try:
                await write([row])
            except DatabaseUnavailable:
                raise
            except DatabaseError as exc:
                self._refused(row, exc)

    def _refused(self, row: object, exc: DatabaseError) -> None:
        self.refused_rows += 1
        self.last_error = str(exc)[:200]
        if self.refused_rows <= 10 or self.refused_rows % 1_000 == 0:  # a pattern, not a flood, in the log
            log.error("the database refused a %s row, dropped (%d so far): %s", type(row).__name__, self.refused_rows,
                      self.last_error)

    async def _prune(self) -> None:
        now = self.clock.now()
        if self._next_prune is not None and now < self._next_prune:
            return
        dropped = await self.records.prune_dead_letters(now - self.dead_letter_retention)
        if dropped:
            log.info("dropped %d dead letter(s) older than %d days", dropped, self.dead_letter_retention.days)
        self._next_prune = now + self.prune_every
