"""Alerts and their history in the database (PostgreSQL/TimescaleDB or SQLite), one SQL for both.

The store turns the engine's transitions into the alert lifecycle: a raise opens an alert (or
reopens the cleared one nobody acknowledged), an escalation updates it, a clear clears it (and
closes it if it was acknowledged). People acknowledge and clear by hand through the CLI. Each
change adds history rows; ``notified_state``/``notified_severity`` remember what subscribers were
told, so nothing is announced twice and nothing is missed.

>>> store = AlertStore(db)                                  # doctest: +SKIP
>>> await store.migrate()                                   # doctest: +SKIP
>>> change = await store.apply(transition)                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.alert_rows import HISTORY_COLUMNS, alert_from_row, history_from_row, time_param
from rules.alerts import OPEN_STATES, Alert, AlertChange, AlertEvent, AlertState, AlertTransition, HistoryEntry
from rules.errors import AlertNotFound, AlertSinkUnavailable, AlertStateError
from rules.schema import MIGRATIONS
from rules.severity import SeverityScale
from streetwatch import migrations
from streetwatch.database import Database, DatabaseUnavailable

_OPEN = ", ".join(f"'{s.value}'" for s in OPEN_STATES)


@dataclass(frozen=True)
class AlertFilter:
    """What ``alerts list`` and ``alerts history`` may filter on; empty means any."""

    severities: Sequence[str] = ()
    sites: Sequence[str] = ()
    kinds: Sequence[str] = ()
    states: Sequence[str] = ()
    rules: Sequence[str] = ()
    devices: Sequence[str] = ()
    since: datetime | None = None
    limit: int = 100


class AlertStore:
    def __init__(self, db: Database, *, scale: SeverityScale | None = None) -> None:
        self.db = db
        self.scale = scale or SeverityScale()

    async def migrate(self) -> None:
        await migrations.migrate(self.db, MIGRATIONS)

    # -- the engine's side ---------------------------------------------------------------------

    async def apply(self, t: AlertTransition) -> AlertChange | None:
        """Store a transition; None when it changes nothing (e.g. clearing an alert closed by hand).

        Raises :class:`AlertSinkUnavailable` when the database cannot be reached.
        """
        try:
            async with self.db.transaction() as tx:
                row = await tx.fetch_one(
                    f"SELECT * FROM alerts WHERE rule = ? AND device_id = ? AND state IN ({_OPEN})",
                    (t.rule, t.device_id))
                current = alert_from_row(row) if row is not None else None
                if t.event is AlertEvent.cleared:
                    alert, events = await self._clear(tx, current, t)
                else:
                    alert, events = await self._raise(tx, current, t)
                return AlertChange(alert, events) if alert is not None else None
        except DatabaseUnavailable as exc:
            raise AlertSinkUnavailable(str(exc)) from exc

    async def _raise(self, tx: Database, current: Alert | None, t: AlertTransition
                     ) -> tuple[Alert | None, tuple[AlertEvent, ...]]:
        at = time_param(tx, t.at)
        values = (t.metric, t.value, t.threshold, t.message, json.dumps(dict(t.context)))
        if current is None:
            if t.event is AlertEvent.deescalated:
                return None, ()  # closed by hand while it was high; stepping down is no news
            location = t.location
            alert = await self._returning(tx,
                "INSERT INTO alerts (rule, device_id, device_kind, site, severity, peak_severity, state, metric, "
                "value, threshold, message, context, latitude, longitude, landmark, raised_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (t.rule, t.device_id, t.device_kind, t.site, t.severity, t.severity, AlertState.raised.value,
                 *values, location.latitude if location else None, location.longitude if location else None,
                 location.landmark if location else None, at, at))
            await self._history(tx, HistoryEntry(
                alert.id, t.at, AlertEvent.raised, t.severity, AlertState.raised, t.value))
            return alert, (AlertEvent.raised,)
        peak = max(current.peak_severity, t.severity, key=self._rank)
        if current.state is AlertState.cleared:
            if t.event is AlertEvent.deescalated:
                return None, ()
            alert = await self._returning(tx,
                "UPDATE alerts SET state = ?, severity = ?, peak_severity = ?, metric = ?, value = ?, threshold = ?, "
                "message = ?, context = ?, updated_at = ?, cleared_at = NULL, cleared_by = NULL, clear_note = NULL "
                "WHERE id = ? RETURNING *",
                (AlertState.raised.value, t.severity, peak, *values, at, current.id))
            await self._history(tx, HistoryEntry(
                current.id, t.at, AlertEvent.reopened, t.severity, AlertState.raised, t.value))
            return alert, (AlertEvent.reopened,)
        if t.severity == current.severity:
            return None, ()  # the engine restarted without its state: nothing new to say
        higher = self._rank(t.severity) > self._rank(current.severity)
        event = AlertEvent.escalated if higher else AlertEvent.deescalated
        alert = await self._returning(tx,
            "UPDATE alerts SET severity = ?, peak_severity = ?, metric = ?, value = ?, threshold = ?, message = ?, "
            "context = ?, updated_at = ? WHERE id = ? RETURNING *",
            (t.severity, peak, *values, at, current.id))
        await self._history(tx, HistoryEntry(current.id, t.at, event, t.severity, current.state, t.value))
        return alert, (event,)

    async def _clear(self, tx: Database, current: Alert | None, t: AlertTransition
                     ) -> tuple[Alert | None, tuple[AlertEvent, ...]]:
        if current is None or current.state is AlertState.cleared:
            return None, ()
        at = time_param(tx, t.at)
        acknowledged = current.state is AlertState.acknowledged
        state = AlertState.closed if acknowledged else AlertState.cleared
        alert = await self._returning(tx,
            "UPDATE alerts SET state = ?, value = ?, message = ?, updated_at = ?, cleared_at = ?, closed_at = ? "
            "WHERE id = ? RETURNING *",
            (state.value, t.value, t.message, at, at, at if acknowledged else None, current.id))
        await self._history(tx, HistoryEntry(
            current.id, t.at, AlertEvent.cleared, current.severity, AlertState.cleared, t.value, note=t.message))
        if not acknowledged:
            return alert, (AlertEvent.cleared,)
        await self._history(tx, HistoryEntry(
            current.id, t.at, AlertEvent.closed, current.severity, AlertState.closed, None))
        return alert, (AlertEvent.cleared, AlertEvent.closed)

    async def active_alerts(self) -> list[Alert]:
        """Alerts whose condition still holds (raised or acknowledged), for the engine to restore."""
        rows = await self.db.fetch_all("SELECT * FROM alerts WHERE state IN (?, ?) ORDER BY id",
                                       (AlertState.raised.value, AlertState.acknowledged.value))
        return [alert_from_row(row) for row in rows]

    # -- people's side -----------------------------------------------------------------------

    async def acknowledge(self, alert_id: int, by: str, note: str | None, at: datetime) -> AlertChange:
        """raised → acknowledged; cleared (unacknowledged) → closed."""
        async with self.db.transaction() as tx:
            alert = await self._get(tx, alert_id)
            if alert.state not in (AlertState.raised, AlertState.cleared):
                raise AlertStateError(f"alert {alert_id} is {alert.state.value}; only a raised or cleared alert "
                                      "can be acknowledged")
            closes = alert.state is AlertState.cleared
            when = time_param(tx, at)
            state = AlertState.closed if closes else AlertState.acknowledged
            await tx.execute(
                "UPDATE alerts SET state = ?, acknowledged_at = ?, acknowledged_by = ?, ack_note = ?, updated_at = ?, "
                "closed_at = ? WHERE id = ?",
                (state.value, when, by, note, when, when if closes else None, alert_id))
            await self._history(tx, HistoryEntry(
                alert_id, at, AlertEvent.acknowledged, alert.severity, AlertState.acknowledged, None, actor=by,
                note=note))
            events: tuple[AlertEvent, ...] = (AlertEvent.acknowledged,)
            if closes:
                await self._history(tx, HistoryEntry(
                    alert_id, at, AlertEvent.closed, alert.severity, AlertState.closed, None, actor=by))
                events += (AlertEvent.closed,)
            return AlertChange(await self._get(tx, alert_id), events)

    async def clear(self, alert_id: int, by: str, note: str | None, at: datetime) -> AlertChange:
        """Clear by hand (and close: whoever clears has seen it). It is raised again only if it gets worse."""
        async with self.db.transaction() as tx:
            alert = await self._get(tx, alert_id)
            if alert.state is AlertState.closed:
                raise AlertStateError(f"alert {alert_id} is already closed")
            when = time_param(tx, at)
            events: tuple[AlertEvent, ...] = ()
            if alert.state is not AlertState.cleared:
                await tx.execute("UPDATE alerts SET cleared_at = ?, cleared_by = ?, clear_note = ? WHERE id = ?",
                                 (when, by, note, alert_id))
                await self._history(tx, HistoryEntry(
                    alert_id, at, AlertEvent.cleared, alert.severity, AlertState.cleared, None, actor=by, note=note))
                events = (AlertEvent.cleared,)
            await tx.execute("UPDATE alerts SET state = ?, closed_at = ?, updated_at = ? WHERE id = ?",
                             (AlertState.closed.value, when, when, alert_id))
            await self._history(tx, HistoryEntry(
                alert_id, at, AlertEvent.closed, alert.severity, AlertState.closed, None, actor=by,
                note=None if events else note))
            return AlertChange(await self._get(tx, alert_id), (*events, AlertEvent.closed))

    # -- queries -----------------------------------------------------------------------------

    async def get(self, alert_id: int) -> Alert:
        return await self._get(self.db, alert_id)

    async def list_alerts(self, where: AlertFilter) -> list[Alert]:
        sql, params = _filtered("SELECT * FROM alerts", where, self.db)
        rows = await self.db.fetch_all(sql + " ORDER BY updated_at DESC, id DESC LIMIT ?", (*params, where.limit))
        return [alert_from_row(row) for row in rows]

    async def history(self, alert_id: int) -> list[HistoryEntry]:
        await self._get(self.db, alert_id)
        rows = await self.db.fetch_all(f"SELECT {HISTORY_COLUMNS} FROM alert_history h WHERE h.alert_id = ? "
                                       "ORDER BY h.id", (alert_id,))
        return [history_from_row(row) for row in rows]

    async def recent_history(self, where: AlertFilter) -> list[HistoryEntry]:
        """History rows of every alert matching ``where`` (``since`` applies to the row's time), newest first."""
        base = f"SELECT {HISTORY_COLUMNS} FROM alert_history h JOIN alerts a ON a.id = h.alert_id"
        sql, params = _filtered(base, AlertFilter(**{**where.__dict__, "since": None}), self.db, prefix="a.")
        if where.since is not None:
            sql += (" AND " if params or " WHERE " in sql else " WHERE ") + "h.at >= ?"
            params.append(time_param(self.db, where.since))
        rows = await self.db.fetch_all(sql + " ORDER BY h.id DESC LIMIT ?", (*params, where.limit))
        return [history_from_row(row) for row in rows]

    # -- notification bookkeeping ------------------------------------------------------------

    async def mark_notified(self, alert_id: int, state: AlertState, severity: str) -> None:
        await self.db.execute("UPDATE alerts SET notified_state = ?, notified_severity = ? WHERE id = ?",
                              (state.value, severity, alert_id))

    async def unnotified(self, since: datetime, limit: int = 200) -> list[Alert]:
        """Alerts changed since ``since`` whose subscribers have not heard of their current state."""
        rows = await self.db.fetch_all(
            "SELECT * FROM alerts WHERE updated_at >= ? AND (notified_state IS NULL OR notified_state <> state "
            "OR notified_severity <> severity) ORDER BY updated_at, id LIMIT ?",
            (time_param(self.db, since), limit))
        return [alert_from_row(row) for row in rows]

    async def due_reminders(self, severities: Sequence[str], last_before: datetime) -> list[Alert]:
        """Raised (unacknowledged) alerts of ``severities`` not announced since ``last_before``."""
        if not severities:
            return []
        marks = ", ".join("?" for _ in severities)
        rows = await self.db.fetch_all(
            f"SELECT * FROM alerts WHERE state = ? AND severity IN ({marks}) "
            "AND COALESCE(reminded_at, raised_at) <= ? ORDER BY id",
            (AlertState.raised.value, *severities, time_param(self.db, last_before)))
        return [alert_from_row(row) for row in rows]

    async def mark_reminded(self, alert_id: int, at: datetime) -> None:
        await self.db.execute("UPDATE alerts SET reminded_at = ? WHERE id = ?", (time_param(self.db, at), alert_id))

    # -- helpers -----------------------------------------------------------------------------

    def _rank(self, severity: str) -> int:
        return self.scale.rank(severity) if self.scale.knows(severity) else 0

    async def _get(self, db: Database, alert_id: int) -> Alert:
        row = await db.fetch_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        if row is None:
            raise AlertNotFound(f"no alert with id {alert_id}")
        return alert_from_row(row)

    async def _returning(self, tx: Database, sql: str, params: Sequence[Any]) -> Alert:
        row = await tx.fetch_one(sql, params)
        assert row is not None, "INSERT/UPDATE … RETURNING * returned no row"
        return alert_from_row(row)

    async def _history(self, tx: Database, entry: HistoryEntry) -> None:
        await tx.execute(
            "INSERT INTO alert_history (alert_id, at, event, severity, state, value, actor, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.alert_id, time_param(tx, entry.at), entry.event.value, entry.severity, entry.state.value,
             entry.value, entry.actor, entry.note))


def _filtered(base: str, where: AlertFilter, db: Database, prefix: str = "") -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("severity", where.severities), ("site", where.sites), ("device_kind", where.kinds),
                           ("state", where.states), ("rule", where.rules), ("device_id", where.devices)):
        if values:
            clauses.append(f"{prefix}{column} IN ({', '.join('?' for _ in values)})")
            params += list(values)
    if where.since is not None:
        clauses.append(f"{prefix}updated_at >= ?")
        params.append(time_param(db, where.since))
    return (base + (" WHERE " + " AND ".join(clauses) if clauses else "")), params

