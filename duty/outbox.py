"""The durable outbox: every notification is a row before any channel sees it.

A row's ``key`` (alert × transition × step × recipient × channel) is unique, so queueing the same
notification again (a step replayed after a restart) inserts nothing. The deliverer
(:mod:`duty.delivery`) takes due rows, hands them to their channel and records the outcome.

>>> outbox = Outbox(db)                                                   # doctest: +SKIP
>>> await outbox.enqueue([OutboxItem("7:…:0:wang:sms", 7, "wang", "sms", "+86…", "", "…")], now)  # doctest: +SKIP
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rules.alert_rows import time_param, time_value
from streetwatch.database import Database


@dataclass(frozen=True, slots=True)
class OutboxItem:
    key: str
    alert_id: int
    recipient: str
    channel: str
    address: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    item: OutboxItem
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str


def _row(row: Mapping[str, object]) -> OutboxRow:
    item = OutboxItem(str(row["key"]), int(str(row["alert_id"])), str(row["recipient"]), str(row["channel"]),
                      str(row["address"]), str(row["subject"]), str(row["body"]))
    created = time_value(row["created_at"])
    assert created is not None
    return OutboxRow(int(str(row["id"])), item, int(str(row["attempts"])), created, time_value(row["sent_at"]),
                     time_value(row["failed_at"]), str(row["last_error"]))


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, items: Sequence[OutboxItem], now: datetime, *, db: Database | None = None) -> int:
        """Queue ``items`` (inside the caller's transaction when ``db`` is one); the number newly queued."""
        target = db or self.db
        at = time_param(target, now)
        added = 0
        for item in items:
            added += await target.execute(
                "INSERT INTO duty_outbox (key, alert_id, recipient, channel, address, subject, body, created_at, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (item.key, item.alert_id, item.recipient, item.channel, item.address, item.subject, item.body, at, at))
        return added

    async def due(self, now: datetime, limit: int = 100, *, alerts: Sequence[int] = ()) -> list[OutboxRow]:
        """Rows to hand to their channels now, oldest first; only those of ``alerts`` when given."""
        only = f" AND alert_id IN ({', '.join('?' for _ in alerts)})" if alerts else ""
        rows = await self.db.fetch_all(
            f"SELECT * FROM duty_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?{only} "
            f"ORDER BY next_attempt_at, id LIMIT ?", (time_param(self.db, now), *alerts, limit))
        return [_row(row) for row in rows]

    async def mark_sent(self, row_id: int, now: datetime) -> None:
        await self.db.execute("UPDATE duty_outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                              (time_param(self.db, now), row_id))

    async def mark_failed(self, row_id: int, now: datetime, error: str, *, retry_at: datetime | None) -> None:
        """A failed attempt: tried again at ``retry_at``, or given up when it is None."""
        if retry_at is None:
            await self.db.execute("UPDATE duty_outbox SET failed_at = ?, attempts = attempts + 1, last_error = ? "
                                  "WHERE id = ?", (time_param(self.db, now), error[:500], row_id))
        else:
            await self.db.execute("UPDATE duty_outbox SET next_attempt_at = ?, attempts = attempts + 1, "
                                  "last_error = ? WHERE id = ?", (time_param(self.db, retry_at), error[:500], row_id))

    async def recent(self, *, alert_id: int | None = None, unsent: bool = False, limit: int = 100) -> list[OutboxRow]:
        """Newest first; ``unsent``: only rows not handed over yet or given up."""
        clauses, params = ["1 = 1"], []
        if alert_id is not None:
            clauses.append("alert_id = ?")
            params.append(alert_id)
        if unsent:
            clauses.append("sent_at IS NULL")
        rows = await self.db.fetch_all(f"SELECT * FROM duty_outbox WHERE {' AND '.join(clauses)} ORDER BY id DESC "
                                       "LIMIT ?", [*params, limit])
        return [_row(row) for row in rows]

    async def of_alert(self, alert_id: int) -> list[OutboxRow]:
        rows = await self.db.fetch_all("SELECT * FROM duty_outbox WHERE alert_id = ? ORDER BY id", (alert_id,))
        return [_row(row) for row in rows]
