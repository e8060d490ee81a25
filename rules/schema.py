"""The rules package's tables: alerts and their history (component ``rules``)."""

from __future__ import annotations

from streetwatch.database.changes import notify_on_change_sql
from streetwatch.migrations import Migration

COMPONENT = "rules"

_ALERTS = """
CREATE TABLE IF NOT EXISTS alerts (
    id                {id},
    rule              TEXT NOT NULL,
    device_id         TEXT NOT NULL,
    device_kind       TEXT NOT NULL DEFAULT '',
    site              TEXT NOT NULL DEFAULT '',
    severity          TEXT NOT NULL,
    peak_severity     TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('raised', 'acknowledged', 'cleared', 'closed')),
    metric            TEXT,
    value             {real},
    threshold         {real},
    message           TEXT NOT NULL DEFAULT '',
    context           TEXT NOT NULL DEFAULT '{{}}',
    latitude          {real},
    longitude         {real},
    landmark          TEXT,
    raised_at         {time} NOT NULL,
    updated_at        {time} NOT NULL,
    acknowledged_at   {time},
    acknowledged_by   TEXT,
    ack_note          TEXT,
    cleared_at        {time},
    cleared_by        TEXT,
    clear_note        TEXT,
    closed_at         {time},
    notified_state    TEXT,
    notified_severity TEXT,
    reminded_at       {time}
);
-- At most one unfinished alert per (rule, device): the engine's "one open alert" rule, enforced.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open ON alerts (rule, device_id)
    WHERE state IN ('raised', 'acknowledged', 'cleared');
CREATE INDEX IF NOT EXISTS alerts_state_severity ON alerts (state, severity);
CREATE INDEX IF NOT EXISTS alerts_site ON alerts (site);
CREATE INDEX IF NOT EXISTS alerts_updated_at ON alerts (updated_at);
CREATE TABLE IF NOT EXISTS alert_history (
    id        {id},
    alert_id  {ref} NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at        {time} NOT NULL,
    event     TEXT NOT NULL,
    severity  TEXT NOT NULL,
    state     TEXT NOT NULL,
    value     {real},
    actor     TEXT,
    note      TEXT
);
CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history (alert_id, id);
CREATE INDEX IF NOT EXISTS alert_history_at ON alert_history (at);
"""

# The hazard point the alert's device watches, as it was when the alert was raised.
_HAZARD = """
ALTER TABLE alerts ADD COLUMN hazard_id TEXT;
ALTER TABLE alerts ADD COLUMN hazard_name TEXT;
ALTER TABLE alerts ADD COLUMN hazard_landmark TEXT;
"""

MIGRATIONS = [
    Migration(
        component=COMPONENT,
        version=1,
        name="alerts and alert history",
        postgresql=_ALERTS.format(id="BIGSERIAL PRIMARY KEY", ref="BIGINT", real="DOUBLE PRECISION",
                                  time="TIMESTAMPTZ"),
        # SQLite keeps times as ISO-8601 UTC text of fixed width, so they sort as text.
        sqlite=_ALERTS.format(id="INTEGER PRIMARY KEY AUTOINCREMENT", ref="INTEGER", real="REAL", time="TEXT"),
    ),
    Migration(component=COMPONENT, version=2, name="the hazard point of an alert", postgresql=_HAZARD, sqlite=_HAZARD),
    # The operator API's event stream is woken by these notifications (streetwatch/database/changes.py);
    # SQLite has none and the stream polls.
    Migration(component=COMPONENT, version=3, name="notify the event stream of alert changes",
              postgresql=notify_on_change_sql("alert_history"), sqlite=""),
]
