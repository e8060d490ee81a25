"""What storing an engine transition writes: one statement for the alert, its history rows after it.

:func:`plan_write` decides from what the store knows of the (rule, device)'s unfinished alert
(:class:`OpenAlert`, or None for none) and gives one :class:`AlertWrite`: an INSERT or UPDATE …
RETURNING, guarded so that it changes nothing if the alert is no longer as known (someone
acknowledged or cleared it meanwhile), and the history rows that follow it in the same round trip
(:meth:`streetwatch.database.Database.write_then`). A write that returns no row means "look again".

>>> write = plan_write(None, transition, rank=scale.rank, time=lambda at: at)   # doctest: +SKIP
>>> row = await db.write_then(write.sql, write.params, write.then)            # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.alerts import Alert, AlertEvent, AlertState, AlertTransition

_HISTORY = ("INSERT INTO alert_history (alert_id, at, event, severity, state, value, actor, note) "
            "SELECT head.id, ?, ?, ?, ?, ?, ?, ? FROM head")

_INSERT = ("INSERT INTO alerts (rule, device_id, device_kind, site, severity, peak_severity, state, metric, value, "
           "threshold, message, context, latitude, longitude, landmark, raised_at, updated_at, hazard_id, hazard_name, "
           "hazard_landmark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT DO NOTHING RETURNING *")  # the one-open-alert index: an unfinished alert exists
_REOPEN = ("UPDATE alerts SET state = ?, severity = ?, peak_severity = ?, metric = ?, value = ?, threshold = ?, "
           "message = ?, context = ?, updated_at = ?, cleared_at = NULL, cleared_by = NULL, clear_note = NULL "
           "WHERE id = ? AND state = ? RETURNING *")
_RESEVER = ("UPDATE alerts SET severity = ?, peak_severity = ?, metric = ?, value = ?, threshold = ?, message = ?, "
            "context = ?, updated_at = ? WHERE id = ? AND state = ? AND severity = ? RETURNING *")
_CLEAR = ("UPDATE alerts SET state = ?, value = ?, message = ?, updated_at = ?, cleared_at = ?, closed_at = ? "
          "WHERE id = ? AND state = ? RETURNING *")


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """What a transition's write depends on, of a (rule, device)'s unfinished alert."""

    id: int
    state: AlertState
    severity: str
    peak_severity: str

    @classmethod
    def of(cls, alert: Alert) -> OpenAlert | None:
        """The alert as the store remembers it; None once it is closed (no longer unfinished)."""
        if alert.state is AlertState.closed:
            return None
        # Interned: a handful of severity names, not a copy per alert.
        return cls(alert.id, alert.state, sys.intern(alert.severity), sys.intern(alert.peak_severity))


@dataclass(frozen=True, slots=True)
class AlertWrite:
    sql: str
    params: tuple[Any, ...]
    then: tuple[tuple[str, tuple[Any, ...]], ...]
    events: tuple[AlertEvent, ...]


def plan_write(current: OpenAlert | None, t: AlertTransition, *, rank: Callable[[str], int],
               time: Callable[[datetime], Any]) -> AlertWrite | None:
    """The write that stores ``t`` over ``current``; None when it changes nothing.

    ``rank`` orders severities, ``time`` turns a time into the database's parameter.
    """
    at = time(t.at)

    def history(event: AlertEvent, severity: str, state: AlertState, value: float | None,
                note: str | None = None) -> tuple[str, tuple[Any, ...]]:
        return _HISTORY, (at, event.value, severity, state.value, value, None, note)

    if t.event is AlertEvent.cleared:
        if current is None or current.state is AlertState.cleared:
            return None
        acknowledged = current.state is AlertState.acknowledged
        state = AlertState.closed if acknowledged else AlertState.cleared
        then = [history(AlertEvent.cleared, current.severity, AlertState.cleared, t.value, t.message)]
        if acknowledged:
            then.append(history(AlertEvent.closed, current.severity, AlertState.closed, None))
        return AlertWrite(_CLEAR, (state.value, t.value, t.message, at, at, at if acknowledged else None,
                                   current.id, current.state.value), tuple(then),
                          (AlertEvent.cleared, AlertEvent.closed) if acknowledged else (AlertEvent.cleared,))

    values = (t.metric, t.value, t.threshold, t.message, json.dumps(dict(t.context)))
    if current is None:
        if t.event is AlertEvent.deescalated:
            return None  # closed by hand while it was high; stepping down is no news
        where, hazard = t.location, t.hazard
        return AlertWrite(_INSERT, (
            t.rule, t.device_id, t.device_kind, t.site, t.severity, t.severity, AlertState.raised.value, *values,
            where.latitude if where else None, where.longitude if where else None, where.landmark if where else None,
            at, at, hazard.id if hazard else None, hazard.name if hazard else None,
            hazard.landmark if hazard else None),
            (history(AlertEvent.raised, t.severity, AlertState.raised, t.value),), (AlertEvent.raised,))
    peak = max(current.peak_severity, t.severity, key=rank)
    if current.state is AlertState.cleared:
        if t.event is AlertEvent.deescalated:
            return None
        return AlertWrite(_REOPEN, (AlertState.raised.value, t.severity, peak, *values, at, current.id,
                                    AlertState.cleared.value),
                          (history(AlertEvent.reopened, t.severity, AlertState.raised, t.value),),
                          (AlertEvent.reopened,))
    if t.severity == current.severity:
        return None  # the engine restarted without its state: nothing new to say
    event = AlertEvent.escalated if rank(t.severity) > rank(current.severity) else AlertEvent.deescalated
    return AlertWrite(_RESEVER, (t.severity, peak, *values, at, current.id, current.state.value, current.severity),
                      (history(event, t.severity, current.state, t.value),), (event,))
