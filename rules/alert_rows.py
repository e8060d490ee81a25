"""Database rows ↔ alert objects, and times in the form each database keeps them.

PostgreSQL has TIMESTAMPTZ; SQLite keeps ISO-8601 UTC text of fixed width (microseconds always
written), so that text order is time order and ``>=`` comparisons work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rules.alerts import Alert, AlertEvent, AlertLocation, AlertState, HazardPlace, HistoryEntry
from streetwatch.database import Database, Row

HISTORY_COLUMNS = "h.alert_id, h.at, h.event, h.severity, h.state, h.value, h.actor, h.note"


def time_param(db: Database, at: datetime) -> Any:
    """``at`` as a query parameter for ``db``."""
    if at.tzinfo is None:
        raise ValueError("times stored for alerts must be timezone-aware")
    if db.backend == "postgresql":
        return at
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_value(value: Any) -> datetime | None:
    """A time read back from either database, as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _required_time(value: Any) -> datetime:
    at = time_value(value)
    if at is None:
        raise ValueError("a required alert time is missing")
    return at


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def alert_from_row(row: Row) -> Alert:
    latitude, longitude = row["latitude"], row["longitude"]
    location = (AlertLocation(float(latitude), float(longitude), row["landmark"] or "")
                if latitude is not None and longitude is not None else None)
    return Alert(
        id=int(row["id"]), rule=row["rule"], device_id=row["device_id"], device_kind=row["device_kind"],
        site=row["site"], severity=row["severity"], peak_severity=row["peak_severity"], state=AlertState(row["state"]),
        raised_at=_required_time(row["raised_at"]), updated_at=_required_time(row["updated_at"]),
        metric=row["metric"], value=_float(row["value"]), threshold=_float(row["threshold"]),
        message=row["message"], context=json.loads(row["context"] or "{}"), location=location,
        hazard=HazardPlace(row["hazard_id"], row["hazard_name"] or "", row["hazard_landmark"] or "")
        if row["hazard_id"] is not None else None,
        acknowledged_at=time_value(row["acknowledged_at"]), acknowledged_by=row["acknowledged_by"],
        ack_note=row["ack_note"], cleared_at=time_value(row["cleared_at"]), cleared_by=row["cleared_by"],
        clear_note=row["clear_note"], closed_at=time_value(row["closed_at"]),
        notified_state=row["notified_state"], notified_severity=row["notified_severity"],
        reminded_at=time_value(row["reminded_at"]),
    )


def history_from_row(row: Row) -> HistoryEntry:
    return HistoryEntry(
        alert_id=int(row["alert_id"]), at=_required_time(row["at"]), event=AlertEvent(row["event"]),
        severity=row["severity"], state=AlertState(row["state"]), value=_float(row["value"]), actor=row["actor"],
        note=row["note"])
