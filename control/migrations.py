"""The control component's tables: commands, their per-device deliveries, schedule assignments."""

from __future__ import annotations

from streetwatch.database.changes import notify_on_change_sql
from streetwatch.migrations import Migration

COMPONENT = "control"

_PG_V1 = """
CREATE TABLE control_commands (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action        TEXT NOT NULL,
    params        TEXT NOT NULL,
    target_kind   TEXT NOT NULL CHECK (target_kind IN ('device', 'group', 'site', 'tag')),
    target_value  TEXT NOT NULL,
    requester     TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    device_count  INTEGER NOT NULL,
    cancelled_at  TIMESTAMPTZ
);
CREATE INDEX control_commands_cancelled ON control_commands (cancelled_at) WHERE cancelled_at IS NOT NULL;
CREATE TABLE control_deliveries (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command_id    BIGINT NOT NULL REFERENCES control_commands (id) ON DELETE CASCADE,
    device_id     TEXT NOT NULL,
    setpoint_kind TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                      ('queued', 'sent', 'confirmed', 'failed', 'expired', 'superseded', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    error         TEXT,
    superseded_by BIGINT
);
CREATE INDEX control_deliveries_open ON control_deliveries (id) WHERE status IN ('queued', 'sent');
CREATE INDEX control_deliveries_command ON control_deliveries (command_id, status);
CREATE INDEX control_deliveries_device ON control_deliveries (device_id, setpoint_kind)
    WHERE status IN ('queued', 'sent');
CREATE TABLE control_schedule_assignments (
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('group', 'site')),
    scope_value  TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    assigned_by  TEXT NOT NULL,
    assigned_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope_kind, scope_value)
);
"""

# SQLite keeps times as ISO-8601 text in UTC with a fixed width, so text order is time order.
_SQLITE_V1 = (
    _PG_V1.replace("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT")
    .replace("TIMESTAMPTZ", "TEXT")
    .replace("BIGINT", "INTEGER")
)

# A rule's command carries the key of its request: a submit retried after a database outage finds
# the command the first attempt queued instead of queueing it twice.
_V2 = """
ALTER TABLE control_commands ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX control_commands_request_key ON control_commands (request_key) WHERE request_key IS NOT NULL;
"""

# Version 3: a command may target an area (the API resolves an area's devices and passes them in).
_KINDS_V1 = "CHECK (target_kind IN ('device', 'group', 'site', 'tag'))"
_KINDS_V3 = "CHECK (target_kind IN ('device', 'group', 'site', 'tag', 'area'))"
_PG_V3 = f"""
ALTER TABLE control_commands DROP CONSTRAINT control_commands_target_kind_check;
ALTER TABLE control_commands ADD CONSTRAINT control_commands_target_kind_check {_KINDS_V3};
"""


def _sqlite_table(name: str) -> str:
    start = _SQLITE_V1.index(f"CREATE TABLE {name} (")
    return _SQLITE_V1[start:_SQLITE_V1.index(");", start) + 2]


def _sqlite_statements(first: str, before: str) -> str:
    return _SQLITE_V1[_SQLITE_V1.index(first):_SQLITE_V1.index(before)]


# SQLite cannot change a CHECK: the two tables are rebuilt, with the columns of versions 1 and 2 in their
# order. Dropping a parent table deletes its children through ON DELETE CASCADE, so the deliveries wait
# in a plain copy while their parent is replaced.
def _sqlite_rebuild(kinds: str, version: int) -> str:
    new = f"control_commands_v{version}"
    return "\n".join([
        _sqlite_table("control_commands").replace("CREATE TABLE control_commands (", f"CREATE TABLE {new} (")
        .replace(_KINDS_V1, kinds)
        .replace("    cancelled_at  TEXT\n);", "    cancelled_at  TEXT,\n    request_key   TEXT\n);"),
        f"INSERT INTO {new} SELECT * FROM control_commands;",
        "CREATE TABLE control_deliveries_copy AS SELECT * FROM control_deliveries;",
        "DROP TABLE control_deliveries;",
        "DROP TABLE control_commands;",
        f"ALTER TABLE {new} RENAME TO control_commands;",
        _sqlite_statements("CREATE INDEX control_commands_cancelled", "CREATE TABLE control_deliveries"),
        _V2.split(";")[1].strip() + ";",  # the request_key index
        _sqlite_table("control_deliveries"),
        "INSERT INTO control_deliveries SELECT * FROM control_deliveries_copy;",
        "DROP TABLE control_deliveries_copy;",
        _sqlite_statements("CREATE INDEX control_deliveries_open", "CREATE TABLE control_schedule"),
    ])


_SQLITE_V3 = _sqlite_rebuild(_KINDS_V3, 3)

# Version 4: a command may target a selection of devices (the console's lasso), listed by its deliveries.
_KINDS_V4 = "CHECK (target_kind IN ('device', 'group', 'site', 'tag', 'area', 'selection'))"
_PG_V4 = _PG_V3.replace(_KINDS_V3, _KINDS_V4)
_SQLITE_V4 = _sqlite_rebuild(_KINDS_V4, 4)

MIGRATIONS: list[Migration] = [
    Migration(COMPONENT, 1, "commands, deliveries and schedule assignments", postgresql=_PG_V1, sqlite=_SQLITE_V1),
    Migration(COMPONENT, 2, "idempotent submissions: control_commands.request_key", postgresql=_V2, sqlite=_V2),
    Migration(COMPONENT, 3, "commands may target an area", postgresql=_PG_V3, sqlite=_SQLITE_V3),
    Migration(COMPONENT, 4, "commands may target a selection of devices", postgresql=_PG_V4, sqlite=_SQLITE_V4),
    # The operator API's event stream is woken by these notifications (streetwatch/database/changes.py);
    # SQLite has none and the stream polls.
    Migration(COMPONENT, 5, "notify the event stream of command progress",
              postgresql=notify_on_change_sql("control_commands") + notify_on_change_sql("control_deliveries"),
              sqlite=""),
]
