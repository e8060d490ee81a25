"""Handing outbox rows to their channels, with retries per channel.

Each channel has its own :class:`~streetwatch.backoff.Backoff`: while the SMS gateway is down its rows wait
and e-mail goes on. A row that failed is tried again after the channel's delay, and given up after
``max_attempts`` (it stays in the outbox with its last error).

Exactly once, as far as it can be: a row is marked sent right after its channel took it. If the
database is down at that moment, the mark waits in memory and in a local file (:mod:`duty.sent_marks`),
so the row is not sent again, even after the gateway is stopped and started while the database is
away; the mark is written when the database is back. Only a crash between a channel taking a message
and the mark being written sends that one message again (the e-mail keeps its Message-ID).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from duty.channels.base import Adapter, Outgoing
from duty.errors import DeliveryError
from duty.outbox import Outbox, OutboxRow
from duty.sent_marks import PendingMarks
from streetwatch.backoff import Backoff
from streetwatch.clock import Clock
from streetwatch.database import DatabaseError

log = logging.getLogger(__name__)
BATCH = 100
MAX_BATCHES = 50


class Deliverer:
    def __init__(self, outbox: Outbox, adapters: Mapping[str, Adapter], *, clock: Clock,
                 secrets: Mapping[tuple[str, str], str] | None = None, retry_initial_s: float = 2.0,
                 retry_max_s: float = 300.0, max_attempts: int = 20, pending: PendingMarks | None = None) -> None:
        self.outbox = outbox
        self.adapters = adapters
        self.clock = clock
        self.secrets = dict(secrets or {})  # (channel, address) → signing secret
        self.retry_initial_s, self.retry_max_s, self.max_attempts = retry_initial_s, retry_max_s, max_attempts
        self._channel_backoff: dict[str, Backoff] = {}
        self._pending = pending
        # sent, but the database did not take the mark yet (also on disk: a restart must not send them again)
        self._unrecorded: dict[int, datetime] = pending.load() if pending is not None else {}
        self.sent = 0
        self.failed = 0

    def _backoff(self, channel: str) -> Backoff:
        if channel not in self._channel_backoff:
            self._channel_backoff[channel] = Backoff(initial_s=self.retry_initial_s, max_s=self.retry_max_s)
        return self._channel_backoff[channel]

    async def _record_pending_marks(self) -> None:
        if not self._unrecorded:
            return
        for row_id, at in list(self._unrecorded.items()):
            await self.outbox.mark_sent(row_id, at)
            del self._unrecorded[row_id]
        if self._pending is not None:
            self._pending.clear()

    async def run_once(self, *, alerts: Sequence[int] = (), stop_when: Callable[[], bool] | None = None) -> int:
        """Deliver what is due now (only the rows of ``alerts`` when given); the number handed over.

        ``stop_when()`` is asked between rows: the rest waits for the next run. Raises DatabaseError when
        the database is down.
        """
        await self._record_pending_marks()
        handed = 0
        for _ in range(MAX_BATCHES):  # a burst of more than one batch goes out in this run, not a tick later
            rows = await self.outbox.due(self.clock.now(), limit=BATCH, alerts=alerts)
            batch = 0
            for row in rows:
                if stop_when is not None and stop_when():
                    return handed + batch
                if row.id not in self._unrecorded and await self._deliver(row):
                    batch += 1
            handed += batch
            if len(rows) < BATCH or not batch:  # all done, or what is left waits for its channel's backoff
                break
        return handed

    async def _deliver(self, row: OutboxRow) -> bool:
        item = row.item
        backoff = self._backoff(item.channel)
        if not backoff.ready(self.clock.monotonic()):
            return False
        adapter = self.adapters.get(item.channel)
        now = self.clock.now()
        if adapter is None:
            await self.outbox.mark_failed(row.id, now, f"no {item.channel} channel is configured", retry_at=None)
            self.failed += 1
            return False
        try:
            await adapter.send(Outgoing(item.key, item.channel, item.address, item.subject, item.body,
                                        self.secrets.get((item.channel, item.address), "")))
        except DeliveryError as exc:
            failed_at = self.clock.monotonic()
            delay = backoff.failed(failed_at) - failed_at
            last = row.attempts + 1 >= self.max_attempts
            if backoff.failures == 1 or last:
                log.warning("%s to %s (alert %d): %s%s", item.channel, item.recipient, item.alert_id, exc,
                            "; given up" if last else "; retrying")
            self.failed += last
            await self.outbox.mark_failed(row.id, now, str(exc),
                                          retry_at=None if last else now + timedelta(seconds=delay))
            return False
        backoff.succeeded()
        self.sent += 1
        try:
            await self.outbox.mark_sent(row.id, now)
        except DatabaseError:
            self._unrecorded[row.id] = now
            if self._pending is not None:
                self._pending.add(row.id, now)
            raise
        return True
