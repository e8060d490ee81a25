"""The gateway's own tables: rejected payloads, devices that are not registered, device online/offline state.

Readings are the telemetry store's; devices are the registry's. These tables hold what the running
gateway learns about the traffic: what it refused and why, who is sending without being registered,
and when each device went offline or came back.
"""

from __future__ import annotations

from streetwatch.database.changes import notify_on_change_sql
from streetwatch.migrations import Migration

COMPONENT = "gateway"

_TABLES = """
CREATE TABLE gateway_dead_letters (
    id          {serial},
    received_at {ts} NOT NULL,
    device_id   TEXT NOT NULL,
    topic       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    metric      TEXT,
    detail      TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX gateway_dead_letters_received ON gateway_dead_letters (received_at);
CREATE INDEX gateway_dead_letters_device ON gateway_dead_letters (device_id, received_at);
CREATE TABLE gateway_pending_devices (
    device_id  TEXT PRIMARY KEY,
    first_seen {ts} NOT NULL,
    last_seen  {ts} NOT NULL,
    messages   BIGINT NOT NULL,
    last_topic TEXT NOT NULL
);
CREATE TABLE gateway_device_state (
    device_id TEXT PRIMARY KEY,
    online    {bool} NOT NULL,
    since     {ts} NOT NULL,
    source    TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE TABLE gateway_device_events (
    id        {serial},
    device_id TEXT NOT NULL,
    at        {ts} NOT NULL,
    online    {bool} NOT NULL,
    source    TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX gateway_device_events_device ON gateway_device_events (device_id, at);
"""

# A dead letter stands for every rejection of its device, reason and metric within one minute
# (``window_key``); ``count`` says how many. Rows from before have no key and a count of 1.
_DEAD_LETTER_COUNTS = """
ALTER TABLE gateway_dead_letters ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE gateway_dead_letters ADD COLUMN window_key TEXT;
CREATE UNIQUE INDEX gateway_dead_letters_window ON gateway_dead_letters (window_key);
CREATE INDEX gateway_pending_devices_last_seen ON gateway_pending_devices (last_seen);
"""

MIGRATIONS: list[Migration] = [
    Migration(
        COMPONENT, 1, "dead letters, pending devices, device state and its events",
        postgresql=_TABLES.format(serial="BIGSERIAL PRIMARY KEY", ts="TIMESTAMPTZ", bool="BOOLEAN"),
        sqlite=_TABLES.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT", ts="TEXT", bool="INTEGER"),
    ),
    Migration(COMPONENT, 2, "dead letters counted per minute; pending devices by last sighting",
              postgresql=_DEAD_LETTER_COUNTS, sqlite=_DEAD_LETTER_COUNTS),
    # The operator API's event stream is woken by these notifications (streetwatch/database/changes.py);
    # SQLite has none and the stream polls.
    Migration(COMPONENT, 3, "notify the event stream of devices going online or offline",
              postgresql=notify_on_change_sql("gateway_device_events"), sqlite=""),
]
