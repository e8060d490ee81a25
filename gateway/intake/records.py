"""Reading and writing the gateway's tables (:mod:`gateway.intake.schema`) on either database.

Times go in as ISO-8601 text in UTC (as the registry does) and come back as aware datetimes.
Every text that came from the network is made storable first (:func:`storable`): PostgreSQL
refuses NUL characters and unpaired surrogates, and an index refuses a key of several kB, and
one such row must not make a whole batch fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streetwatch.database import Database, Row

PAYLOAD_EXCERPT_BYTES = 256
# Longest text kept per column (characters); longer text is cut and ends with "…".
MAX_ID_CHARS = 128
MAX_TOPIC_CHARS = 256
MAX_DETAIL_CHARS = 512
MAX_PAYLOAD_CHARS = PAYLOAD_EXCERPT_BYTES + 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str, max_chars: int) -> str:
    """``text`` as any database keeps it: NUL shown as ␀, unpaired surrogates as �, at most ``max_chars``.

    >>> storable("CG-1\\x00\\ud800" + "x" * 10, 8)
    'CG-1␀�x…'
    """
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    if "\x00" in text:
        text = text.replace("\x00", "\u2400")
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A telemetry payload, or part of one, that was not used: why, and what it looked like."""

    received_at: datetime
    device_id: str
    topic: str
    reason: str
    metric: str | None
    detail: str
    payload: str
    count: int = 1  # rejections this row stands for (one row per device, reason and metric a minute)

    @property
    def window_key(self) -> str:
        """What makes rejections one row: the minute they arrived in, device, reason and metric."""
        minute = self.received_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return f"{minute}|{self.device_id}|{self.reason}|{self.metric or ''}"

    def storable(self) -> DeadLetter:
        """This letter with every text cut to its column's size and freed of what a database refuses."""
        return DeadLetter(self.received_at, storable(self.device_id, MAX_ID_CHARS),
                          storable(self.topic, MAX_TOPIC_CHARS), storable(self.reason, MAX_ID_CHARS),
                          None if self.metric is None else storable(self.metric, MAX_ID_CHARS),
                          storable(self.detail, MAX_DETAIL_CHARS), storable(self.payload, MAX_PAYLOAD_CHARS),
                          self.count)

    @staticmethod
    def excerpt(payload: bytes) -> str:
        """The start of a payload as text, for a person to look at."""
        text = payload[:PAYLOAD_EXCERPT_BYTES].decode("utf-8", errors="replace")
        return text + ("…" if len(payload) > PAYLOAD_EXCERPT_BYTES else "")


@dataclass(frozen=True, slots=True)
class PendingDevice:
    """A device id that sends telemetry but is not registered (or is retired)."""

    device_id: str
    first_seen: datetime
    last_seen: datetime
    messages: int
    last_topic: str

    def storable(self) -> PendingDevice:
        return PendingDevice(storable(self.device_id, MAX_ID_CHARS), self.first_seen, self.last_seen, self.messages,
                             storable(self.last_topic, MAX_TOPIC_CHARS))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A device went online or offline. ``source``: ``modbus``, ``mqtt-status``, ``mqtt-telemetry``."""

    device_id: str
    online: bool
    at: datetime
    source: str
    detail: str = ""

    def storable(self) -> StatusChange:
        return StatusChange(storable(self.device_id, MAX_ID_CHARS), self.online, self.at, self.source,
                            storable(self.detail, MAX_DETAIL_CHARS))


def _time(value: Any) -> datetime:
    result = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _dead_letter(row: Row) -> DeadLetter:
    return DeadLetter(_time(row["received_at"]), row["device_id"], row["topic"], row["reason"], row["metric"],
                      row["detail"], row["payload"], int(row["count"]))


class GatewayRecords:
    """The gateway's tables in one database. Cheap to make; the schema is :data:`gateway.intake.schema.MIGRATIONS`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- dead letters ----------------------------------------------------------------------------

    async def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Add letters; one of a minute that already has a row for its device, reason and metric adds its count."""
        if not letters:
            return
        rows = [d.storable() for d in letters]
        await self.db.executemany(
            "INSERT INTO gateway_dead_letters (received_at, device_id, topic, reason, metric, detail, payload, count, "
            "window_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (window_key) DO UPDATE SET "
            "count = gateway_dead_letters.count + excluded.count",
            [(_stamp(d.received_at), d.device_id, d.topic, d.reason, d.metric, d.detail, d.payload, d.count,
              d.window_key) for d in rows])

    async def dead_letters(self, *, device_id: str | None = None, reason: str | None = None,
                           since: datetime | None = None, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""
        clauses, params = ["1 = 1"], []
        if device_id is not None:
            clauses.append("device_id = ?")
            params.append(device_id)
        if reason is not None:
            clauses.append("reason = ?")
            params.append(reason)
        if since is not None:
            clauses.append("received_at >= ?")
            params.append(_stamp(since))
        rows = await self.db.fetch_all(
            "SELECT received_at, device_id, topic, reason, metric, detail, payload, count FROM gateway_dead_letters "
            f"WHERE {' AND '.join(clauses)} ORDER BY received_at DESC, id DESC LIMIT ?", (*params, limit))
        return [_dead_letter(row) for row in rows]

    async def count_dead_letters(self, since: datetime | None = None) -> dict[str, int]:
        """Rejections per reason (each row counts what it stands for)."""
        where, params = ("WHERE received_at >= ?", (_stamp(since),)) if since is not None else ("", ())
        rows = await self.db.fetch_all(
            f"SELECT reason, sum(count) AS n FROM gateway_dead_letters {where} GROUP BY reason ORDER BY reason", params)
        return {row["reason"]: int(row["n"]) for row in rows}

    async def prune_dead_letters(self, before: datetime) -> int:
        return await self.db.execute("DELETE FROM gateway_dead_letters WHERE received_at < ?", (_stamp(before),))

    # -- devices that are not registered ---------------------------------------------------------

    async def add_pending(self, seen: Sequence[PendingDevice]) -> None:
        """Add sightings: ``messages`` is the count since the last call, added to what is stored."""
        if not seen:
            return
        await self.db.executemany(
            "INSERT INTO gateway_pending_devices (device_id, first_seen, last_seen, messages, last_topic) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen, "
            "messages = gateway_pending_devices.messages + excluded.messages, last_topic = excluded.last_topic",
            [(p.device_id, _stamp(p.first_seen), _stamp(p.last_seen), p.messages, p.last_topic)
             for p in (p.storable() for p in seen)])

    async def cap_pending(self, keep: int) -> int:
        """Keep the ``keep`` devices seen last (a flood of made-up ids must not grow the table without end)."""
        cutoff = await self.db.fetch_value(
            "SELECT last_seen FROM gateway_pending_devices ORDER BY last_seen DESC LIMIT 1 OFFSET ?", (keep,))
        if cutoff is None:
            return 0
        return await self.db.execute("DELETE FROM gateway_pending_devices WHERE last_seen <= ?", (cutoff,))

    async def pending(self) -> list[PendingDevice]:
        rows = await self.db.fetch_all(
            "SELECT device_id, first_seen, last_seen, messages, last_topic FROM gateway_pending_devices "
            "ORDER BY last_seen DESC, device_id")
        return [PendingDevice(row["device_id"], _time(row["first_seen"]), _time(row["last_seen"]),
                              int(row["messages"]), row["last_topic"]) for row in rows]

    async def forget_pending(self, device_ids: Sequence[str]) -> None:
        if device_ids:
            await self.db.executemany("DELETE FROM gateway_pending_devices WHERE device_id = ?",
                                      [(d,) for d in device_ids])

    # -- online / offline ------------------------------------------------------------------------

    async def add_status_changes(self, changes: Sequence[StatusChange]) -> None:
        """Record the changes as events and make the last one of each device its current state."""
        if not changes:
            return
        changes = [c.storable() for c in changes]
        last = {c.device_id: c for c in changes}
        async with self.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO gateway_device_events (device_id, at, online, source, detail) VALUES (?, ?, ?, ?, ?)",
                [(c.device_id, _stamp(c.at), c.online, c.source, c.detail) for c in changes])
            await tx.executemany(
                "INSERT INTO gateway_device_state (device_id, online, since, source, detail) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, since = excluded.since, "
                "source = excluded.source, detail = excluded.detail",
                [(c.device_id, c.online, _stamp(c.at), c.source, c.detail) for c in last.values()])

    async def device_states(self) -> dict[str, StatusChange]:
        rows = await self.db.fetch_all("SELECT device_id, online, since, source, detail FROM gateway_device_state")
        return {row["device_id"]: StatusChange(row["device_id"], bool(row["online"]), _time(row["since"]),
                                               row["source"], row["detail"]) for row in rows}

    async def device_events(self, device_id: str | None = None, limit: int = 100) -> list[StatusChange]:
        """The newest events first."""
        where, params = ("WHERE device_id = ?", (device_id,)) if device_id is not None else ("", ())
        rows = await self.db.fetch_all(
            f"SELECT device_id, at, online, source, detail FROM gateway_device_events {where} "
            "ORDER BY at DESC, id DESC LIMIT ?", (*params, limit))
        return [StatusChange(row["device_id"], bool(row["online"]), _time(row["at"]), row["source"], row["detail"])
                for row in rows]
