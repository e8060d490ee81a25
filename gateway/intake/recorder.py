"""Writes what the gateway learns about its traffic (dead letters, unregistered senders, online/offline
changes) to the database in batches, from one task, without ever holding up the intake.

Buffers are bounded: when the database is away longer than the buffers last, the oldest entries are
dropped and counted (:attr:`Recorder.dropped`). These are diagnostics; readings never pass here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.intake.records import DeadLetter, GatewayRecords, PendingDevice, StatusChange
from streetwatch.clock import Clock
from streetwatch.database import DatabaseError

log = logging.getLogger(__name__)


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
                 prune_every: timedelta = timedelta(hours=1)) -> None:
        self.records = records
        self.clock = clock
        self.flush_interval_s = flush_interval_s
        self.max_buffered = max_buffered
        self.dead_letter_retention = dead_letter_retention
        self.prune_every = prune_every
        self.dropped = 0
        self._letters: deque[DeadLetter] = deque()
        self._changes: deque[StatusChange] = deque()
        self._sightings: dict[str, _Sighting] = {}
        self._registered: set[str] = set()
        self._wake = asyncio.Event()
        self._failing = False
        self._next_prune: datetime | None = None
        self._lock = asyncio.Lock()

    # -- what the intake hands over (never waits) -------------------------------------------------

    def dead_letter(self, letter: DeadLetter) -> None:
        if len(self._letters) >= self.max_buffered:
            self._letters.popleft()
            self.dropped += 1
        self._letters.append(letter)
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
            letters, changes = list(self._letters), list(self._changes)
            sightings = [PendingDevice(device_id, s.first_seen, s.last_seen, s.messages, s.last_topic)
                         for device_id, s in self._sightings.items()]
            registered = sorted(self._registered)
            try:
                await self.records.add_status_changes(changes)
                for _ in changes:
                    self._changes.popleft()
                await self.records.add_dead_letters(letters)
                for _ in letters:
                    self._letters.popleft()
                await self.records.add_pending(sightings)
                for pending in sightings:
                    seen = self._sightings.get(pending.device_id)
                    if seen is not None:
                        seen.messages -= pending.messages
                        if seen.messages <= 0:
                            del self._sightings[pending.device_id]
                await self.records.forget_pending(registered)
                self._registered -= set(registered)
                await self._prune()
            except DatabaseError as exc:
                if not self._failing:
                    log.error("cannot record gateway events, keeping up to %d in memory: %s", self.max_buffered, exc)
                self._failing = True
                return False
            if self._failing:
                log.info("recording gateway events again")
            self._failing = False
            return True

    async def _prune(self) -> None:
        now = self.clock.now()
        if self._next_prune is not None and now < self._next_prune:
            return
        dropped = await self.records.prune_dead_letters(now - self.dead_letter_retention)
        if dropped:
            log.info("dropped %d dead letter(s) older than %d days", dropped, self.dead_letter_retention.days)
        self._next_prune = now + self.prune_every
