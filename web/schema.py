"""The web package's tables: commands waiting for a second person, and the event log the stream reads."""

from __future__ import annotations

from streetwatch.migrations import Migration

COMPONENT = "web"

_TABLES = """
CREATE TABLE approval_requests (
    id            {serial},
    requested_by  TEXT NOT NULL,
    requested_at  {ts} NOT NULL,
    expires_at    {ts} NOT NULL,
    target_kind   TEXT NOT NULL,
    target_value  TEXT NOT NULL,
    action        TEXT NOT NULL,
    params        TEXT NOT NULL,
    device_ids    TEXT NOT NULL,
    device_areas  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    ttl_s         DOUBLE PRECISION NOT NULL,
    why           TEXT NOT NULL,
    state         TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    {ts},
    command_id    BIGINT
);
CREATE INDEX approval_requests_state ON approval_requests (state);
"""

MIGRATIONS: list[Migration] = [
    Migration(COMPONENT, 1, "approval requests (two-person rule)",
              postgresql=_TABLES.format(ts="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY"),
              sqlite=_TABLES.format(ts="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT")),
]
