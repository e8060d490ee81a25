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

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.alert_rows import HISTORY_COLUMNS, alert_from_row, history_from_row, time_param
from rules.alert_writes import OpenAlert, plan_write
from rules.alerts import OPEN_STATES, Alert, AlertChange, AlertEvent, AlertState, AlertTransition, HistoryEntry
from rules.errors import AlertNotFound, AlertSinkUnavailable, AlertStateError
from rules.schema import MIGRATIONS
from rules.severity import SeverityScale
from streetwatch import migrations
from streetwatch.database import Database, DatabaseUnavailable

_OPEN = ", ".join(f"'{s.value}'" for s in OPEN_STATES)
_ATTEMPTS = 3
REMEMBERED_ALERTS = 10_000
"""How many unfinished alerts the store remembers: the most recently written. The database has all of
them; one it forgot costs one read when it next changes. (Remembering every one kept 250 bytes an alert
in memory: 20 MB with 80,000 devices offline.)"""


class _Unknown:
    """What the store knows of an alert before it looks (see ``AlertStore._apply``)."""


_UNKNOWN = _Unknown()


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
        # What this store last wrote or read of the unfinished alerts it changed last (at most
        # REMEMBERED_ALERTS, oldest forgotten first), so that storing a transition needs no read first.
        # Only a guess: every write it plans is guarded and checked.
        self._open: dict[tuple[str, str], OpenAlert] = {}

    async def migrate(self) -> None:
        await migrations.migrate(self.db, MIGRATIONS)

    # -- the engine's side ---------------------------------------------------------------------

    async def apply(self, t: AlertTransition) -> AlertChange | None:
        """Store a transition; None when it changes nothing (e.g. clearing an alert closed by hand).

        One round trip in the usual case: the alert's row and its history in one atomic write, planned
        from what this store last wrote or read of the (rule, device). If the alert changed meanwhile
        (acknowledged or cleared from the CLI), the guarded write changes nothing and the store reads
        the alert and plans again. Raises :class:`AlertSinkUnavailable` when the database cannot be
        reached.
        """
        try:
            return await self._apply(self.db, t)
        except DatabaseUnavailable as exc:
            raise AlertSinkUnavailable(str(exc)) from exc

    async def apply_many(self, transitions: Sequence[AlertTransition]) -> list[AlertChange | None]:
        """Store transitions in order in one transaction: what :meth:`apply` gives for each, one commit for all.

        All or none: when the database cannot be reached (:class:`AlertSinkUnavailable`) or a write
        fails, nothing of the batch is stored. When 80,000 devices go offline at once, one commit per
        alert kept tens of thousands of transitions waiting in memory for minutes.
        """
        if len(transitions) == 1:
            return [await self.apply(transitions[0])]
        try:
            async with self.db.transaction() as tx:
                changes: list[AlertChange | None] = []
                while len(changes) < len(transitions):
                    run: list[AlertTransition] = []  # transitions of distinct alerts: planned together
                    keys: set[tuple[str, str]] = set()
                    for t in transitions[len(changes):]:
                        if (t.rule, t.device_id) in keys:
                            break
                        keys.add((t.rule, t.device_id))
                        run.append(t)
                    changes += await self._apply_run(tx, run)
                return changes
        except BaseException as exc:
            for t in transitions:  # what was planned in the transaction undone is not known: read it when needed
                self._open.pop((t.rule, t.device_id), None)
            if isinstance(exc, DatabaseUnavailable):
                raise AlertSinkUnavailable(str(exc)) from exc
            raise

    async def _apply_run(self, tx: Database, run: Sequence[AlertTransition]) -> list[AlertChange | None]:
        """Transitions of distinct alerts: every write planned first, then all written in one round trip."""
        plans = [(t, plan_write(await self._current(tx, t), t, rank=self._rank, time=self._time)) for t in run]
        rows = iter(await tx.write_then_many([(w.sql, w.params, w.then) for _, w in plans if w is not None]))
        out: list[AlertChange | None] = []
        for t, write in plans:
            row = next(rows) if write is not None else None
            if write is None:
                out.append(None)
            elif row is not None:
                alert = alert_from_row(row)
                self._remember(alert, (t.rule, t.device_id))
                out.append(AlertChange(alert, write.events))
            else:  # changed meanwhile (from the CLI): read it and plan again
                out.append(await self._apply(tx, t, await self._read_open(tx, (t.rule, t.device_id))))
        return out

    async def _current(self, db: Database, t: AlertTransition) -> OpenAlert | None:
        key = (t.rule, t.device_id)
        if key in self._open:
            return self._open[key]
        if t.event in (AlertEvent.cleared, AlertEvent.deescalated):
            return await self._read_open(db, key)
        return None  # most likely none; an unfinished one makes the INSERT return nothing

    async def _apply(self, db: Database, t: AlertTransition, current: OpenAlert | _Unknown | None = _UNKNOWN
                     ) -> AlertChange | None:
        key = (t.rule, t.device_id)
        if isinstance(current, _Unknown):
            current = await self._current(db, t)
        for _ in range(_ATTEMPTS):
            write = plan_write(current, t, rank=self._rank, time=self._time)
            if write is None:
                return None
            row = await db.write_then(write.sql, write.params, write.then)
            if row is not None:
                alert = alert_from_row(row)
                self._remember(alert, key)
                return AlertChange(alert, write.events)
            current = await self._read_open(db, key)
        raise AlertSinkUnavailable(f"alert {t.rule}/{t.device_id} kept changing while it was stored")

    async def _read_open(self, db: Database, key: tuple[str, str]) -> OpenAlert | None:
        row = await db.fetch_one(
            f"SELECT id, state, severity, peak_severity FROM alerts WHERE rule = ? AND device_id = ? "
            f"AND state IN ({_OPEN})", key)
        current = (OpenAlert(int(row["id"]), AlertState(row["state"]), sys.intern(row["severity"]),
                             sys.intern(row["peak_severity"]))
                   if row is not None else None)
        self._keep(key, current)
        return current

    def _remember(self, alert: Alert, key: tuple[str, str] | None = None) -> None:
        # The transition's key when there is one: its texts are the engine's, shared with every other
        # alert of the rule and the device's other rules; the row's are new copies.
        self._keep(key or (alert.rule, alert.device_id), OpenAlert.of(alert))

    def _keep(self, key: tuple[str, str], known: OpenAlert | None) -> None:
        self._open.pop(key, None)  # a kept one goes to the end: the most recently changed are kept longest
        if known is not None:
            self._open[key] = known
            if len(self._open) > REMEMBERED_ALERTS:
                del self._open[next(iter(self._open))]

    def _time(self, at: datetime) -> Any:
        return time_param(self.db, at)

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
            change = AlertChange(await self._get(tx, alert_id), events)
        self._remember(change.alert)
        return change

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
            change = AlertChange(await self._get(tx, alert_id), (*events, AlertEvent.closed))
        self._remember(change.alert)
        return change

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
        """Subscribers were told the alert is ``state`` at ``severity``; kept only if it still is (a record
        that arrives after a later change must not hide that change from the sweep)."""
        await self.db.execute("UPDATE alerts SET notified_state = ?, notified_severity = ? "
                              "WHERE id = ? AND state = ? AND severity = ?",
                              (state.value, severity, alert_id, state.value, severity))

    async def mark_notified_many(self, alerts: Sequence[Alert]) -> None:
        """:meth:`mark_notified` for each alert (as it is now: its state and severity), in one transaction."""
        if alerts:
            await self.db.executemany("UPDATE alerts SET notified_state = ?, notified_severity = ? "
                                      "WHERE id = ? AND state = ? AND severity = ?",
                                      [(a.state.value, a.severity, a.id, a.state.value, a.severity) for a in alerts])

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

