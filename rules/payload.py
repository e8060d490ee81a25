"""The alert notification: one JSON document for MQTT and webhooks alike.

Topic ``streetwatch/alerts/{severity}/{device_id}``; body::

    {"alert_id": 12, "event": "raised", "rule": "culvert-water-level", "device": "CG-0007",
     "device_kind": "culvert_gauge", "site": "district-3",
     "location": {"latitude": 31.2, "longitude": 121.4, "landmark": "Xujiahui underpass"},
     "metric": "water_level_mm", "value": 812.0, "threshold": 800.0, "severity": "red",
     "peak_severity": "red", "state": "raised", "message": "…", "context": {},
     "hazard_point": {"id": "XJH-UP", "name": "Xujiahui underpass", "landmark": "…"},
     "projection": null,
     "times": {"raised_at": "…", "updated_at": "…", "acknowledged_at": null, "cleared_at": null,
               "closed_at": null},
     "acknowledged_by": null, "note": null}

``hazard_point`` is null for a device that watches none; ``projection`` (a ``projected`` rule's
alert) is ``{"level": 800.0, "level_now": 650.2, "rise_per_min": 20.04, "eta_s": 449.1,
"earliest_s": 413.7, "latest_s": 491.0}``, a bound null when the fit allows "never".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rules.alerts import Alert, AlertEvent, AlertLocation, AlertState, AlertTransition
from streetwatch import topics

_TOPIC_UNSAFE = str.maketrans({"/": "_", "+": "_", "#": "_"})


def alert_topic(severity: str, device_id: str) -> str:
    """The MQTT topic; a group subject such as ``tag:zone=3`` is kept, topic wildcards are not."""
    return topics.alert(severity.translate(_TOPIC_UNSAFE), device_id.translate(_TOPIC_UNSAFE))


PROJECTION_KEYS = ("level_now", "rise_per_min", "eta_s", "earliest_s", "latest_s")
"""What a ``projected`` rule puts in an alert's context (rules/projected.py)."""


def projection(context: Mapping[str, float], level: float | None) -> dict[str, float | None] | None:
    """The time to the next level with its uncertainty, when the alert carries one (else None).

    ``eta_s``, ``earliest_s``, ``latest_s``: seconds from the alert's reading; ``None`` for "maybe never".
    """
    if "eta_s" not in context:
        return None
    out: dict[str, float | None] = {"level": level}
    for key in PROJECTION_KEYS:
        value = context.get(key)
        out[key] = value if value is not None and math.isfinite(value) else None
    return out


def _time(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _location(location: AlertLocation | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"latitude": location.latitude, "longitude": location.longitude, "landmark": location.landmark}


def alert_payload(alert: Alert, event: AlertEvent) -> dict[str, Any]:
    """The notification of ``event`` for a stored alert."""
    note = alert.clear_note if event in (AlertEvent.cleared, AlertEvent.closed) else alert.ack_note
    return {
        "alert_id": alert.id, "event": event.value, "rule": alert.rule, "device": alert.device_id,
        "device_kind": alert.device_kind, "site": alert.site, "location": _location(alert.location),
        "metric": alert.metric, "value": alert.value, "threshold": alert.threshold, "severity": alert.severity,
        "peak_severity": alert.peak_severity, "state": alert.state.value, "message": alert.message,
        "context": dict(alert.context), "hazard_point": alert.hazard.as_dict() if alert.hazard else None,
        "projection": projection(alert.context, alert.threshold),
        "times": {"raised_at": _time(alert.raised_at), "updated_at": _time(alert.updated_at),
                  "acknowledged_at": _time(alert.acknowledged_at), "cleared_at": _time(alert.cleared_at),
                  "closed_at": _time(alert.closed_at)},
        "acknowledged_by": alert.acknowledged_by, "note": note,
    }


def transition_payload(t: AlertTransition) -> dict[str, Any]:
    """The notification of a transition not stored yet (the database is down): no alert id."""
    state = AlertState.cleared if t.event is AlertEvent.cleared else AlertState.raised
    at = _time(t.at)
    return {
        "alert_id": None, "event": t.event.value, "rule": t.rule, "device": t.device_id,
        "device_kind": t.device_kind, "site": t.site, "location": _location(t.location), "metric": t.metric,
        "value": t.value, "threshold": t.threshold, "severity": t.severity, "peak_severity": t.severity,
        "state": state.value, "message": t.message, "context": dict(t.context),
        "hazard_point": t.hazard.as_dict() if t.hazard else None, "projection": projection(t.context, t.threshold),
        "times": {"raised_at": at if t.event is AlertEvent.raised else None, "updated_at": at,
                  "acknowledged_at": None, "cleared_at": at if state is AlertState.cleared else None,
                  "closed_at": None},
        "acknowledged_by": None, "note": None,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
