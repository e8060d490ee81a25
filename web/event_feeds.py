"""What the event stream reads: the alert history and the gateway's device online/offline log, each in id order.

Both tables are append-only and numbered by the database. On PostgreSQL two writers can take ids 7 and 8
and commit 8 first; a reader that moved past 8 would never see 7. So :class:`FeedReader` holds back
every row behind a gap in the ids until the gap fills or has stayed open ``gap_wait_s`` (an id taken by a
transaction that rolled back never fills). Events therefore leave in id order and a position (the last
id passed) is enough to resume. SQLite has one writer at a time and no gaps.

A position in both feeds is a :class:`Cursor`, sent as the event id ``ALERT-DEVICE`` (``4711-233``); a bare
number (what earlier versions sent) is an alert position, with device changes from now on.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from people import ROOT_AREA
from streetwatch.database import Database, DatabaseError, Row
from web.services import Services

BATCH = 500
GAP_WAIT_S = 2.0
CURSOR_PATTERN = r"^\d{1,19}(-\d{1,19})?$"
_CURSOR = re.compile(CURSOR_PATTERN)
MAX_POSITION = 2**63 - 1

ALERT_ROWS = ("SELECT h.id, h.alert_id, h.at, h.event, h.severity, h.state, h.value, h.actor, h.note, a.device_id, "
              "a.rule, a.site, a.message FROM alert_history h JOIN alerts a ON a.id = h.alert_id "
              "WHERE h.id > ? AND h.id <= ? ORDER BY h.id LIMIT ?")
# The gateway's table (gateway/intake/schema.py); read here as the console's map reads its state table.
DEVICE_ROWS = ("SELECT id, device_id, at, online, source, detail FROM gateway_device_events "
               "WHERE id > ? AND id <= ? ORDER BY id LIMIT ?")
LAST_IDS = {ALERT_ROWS: "SELECT COALESCE(MAX(id), 0) AS last FROM alert_history",
            DEVICE_ROWS: "SELECT COALESCE(MAX(id), 0) AS last FROM gateway_device_events"}


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last alert history id and the last device event id a client has been given (``None``: from now)."""

    alert: int
    device: int | None = None

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """``"4711-233"`` → Cursor(4711, 233); ``"4711"`` → Cursor(4711, None); anything else → None."""
        if not _CURSOR.match(text):
            return None
        alert, _, device = text.partition("-")
        values = [int(alert)] + ([int(device)] if device else [])
        if max(values) > MAX_POSITION:
            return None
        return cls(values[0], values[1] if device else None)

    def __str__(self) -> str:
        return f"{self.alert}-{self.device or 0}"


@dataclass(frozen=True, slots=True)
class Event:
    """One change, its frame written once for every client, and the areas whose viewers may see it."""

    feed: str                # "alert", "device" or "command"
    seq: int                 # the row id in its feed (0 for command snapshots)
    areas: frozenset[str]
    frame: str

    def visible_to(self, sees: Callable[[str], bool]) -> bool:
        return any(sees(area) for area in self.areas)


def frame(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def last_id(db: Database, query: str) -> int:
    """The newest id of a feed; 0 while its table does not exist (no gateway has run on this database yet)."""
    try:
        return int(await db.fetch_value(LAST_IDS[query]))
    except DatabaseError:
        return 0


async def read_rows(db: Database, query: str, after: int, upto: int = MAX_POSITION) -> list[Row]:
    try:
        return await db.fetch_all(query, (after, upto, BATCH))
    except DatabaseError:
        if query is DEVICE_ROWS:  # the gateway's table is not there yet
            return []
        raise


class FeedReader:
    """Reads one feed after ``after``, in id order, holding rows back behind a gap (see the module's text)."""

    def __init__(self, query: str, after: int, *, gap_wait_s: float = GAP_WAIT_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.query = query
        self.after = after
        self._monotonic = monotonic
        self._gap_wait_s = gap_wait_s
        self._gap_seen: float | None = None

    async def read(self, db: Database) -> list[Row]:
        passed = []
        for row in await read_rows(db, self.query, self.after):
            row_id = int(row["id"])
            if row_id != self.after + 1:
                now = self._monotonic()
                if self._gap_seen is None:
                    self._gap_seen = now
                if now - self._gap_seen < self._gap_wait_s:
                    break  # an earlier id may still commit
            self._gap_seen = None
            passed.append(row)
            self.after = row_id
        return passed


async def _areas(services: Services, rows: Sequence[Row]) -> dict[str, str]:
    devices = await services.registry.get_many({str(row["device_id"]) for row in rows})
    return {device_id: (device.area or ROOT_AREA) for device_id, device in devices.items()}


async def alert_events(services: Services, rows: Sequence[Row], device_position: int) -> list[Event]:
    """``alert`` events of alert history rows; an unregistered device's belong to the root area."""
    areas = await _areas(services, rows)
    events = []
    for row in rows:
        data = {key: row[key] for key in ("alert_id", "event", "severity", "state", "value", "actor", "note",
                                          "rule", "site", "message")}
        data.update(device=row["device_id"], at=str(row["at"]))
        cursor = Cursor(int(row["id"]), device_position)
        events.append(Event("alert", int(row["id"]), frozenset({areas.get(str(row["device_id"]), ROOT_AREA)}),
                            frame("alert", data, str(cursor))))
    return events


async def device_events(services: Services, rows: Sequence[Row], alert_position: int) -> list[Event]:
    """``device`` events (online/offline) of the gateway's device event rows."""
    areas = await _areas(services, rows)
    events = []
    for row in rows:
        area = areas.get(str(row["device_id"]), ROOT_AREA)
        data = {"device": row["device_id"], "online": bool(row["online"]), "state": "online" if row["online"]
                else "offline", "at": str(row["at"]), "source": row["source"], "detail": row["detail"], "area": area}
        cursor = Cursor(alert_position, int(row["id"]))
        events.append(Event("device", int(row["id"]), frozenset({area}), frame("device", data, str(cursor))))
    return events


async def catch_up(services: Services, start: Cursor, upto: Cursor) -> list[Event]:
    """What happened after ``start`` up to ``upto`` (a resuming client's missed events), alerts first."""
    events: list[Event] = []
    device_from = (upto.device if start.device is None else start.device) or 0
    after = start.alert
    while after < (upto.alert or 0):
        rows = await read_rows(services.db, ALERT_ROWS, after, upto.alert)
        if not rows:
            break
        events += await alert_events(services, rows, device_from)
        after = int(rows[-1]["id"])
    after = device_from
    while after < (upto.device or 0):
        rows = await read_rows(services.db, DEVICE_ROWS, after, upto.device or 0)
        if not rows:
            break
        events += await device_events(services, rows, max(start.alert, upto.alert))
        after = int(rows[-1]["id"])
    return events
