"""The duty package's tables: channels of people, who is responsible for what, the notification outbox,
escalations in progress and the acknowledgement links handed out (and whether they were used), task
orders, silences, and which alert transitions' rule task orders were dispatched (``duty_rule_tasks``).

The outbox's ``key`` is unique: the alert, the transition, the escalation step, the recipient and the
channel. Queueing a notification twice (a retried step after a restart, a second gateway) inserts once.
"""

from __future__ import annotations

from streetwatch.database.changes import notify_on_change_sql
from streetwatch.migrations import Migration

COMPONENT = "duty"

_TABLES = """
CREATE TABLE duty_contacts (
    user_name TEXT NOT NULL,
    channel   TEXT NOT NULL,
    address   TEXT NOT NULL,
    secret    TEXT NOT NULL DEFAULT '',
    language  TEXT NOT NULL DEFAULT 'zh',
    PRIMARY KEY (user_name, channel, address)
);
CREATE TABLE duty_responsible (
    target_kind TEXT NOT NULL CHECK (target_kind IN ('device', 'group', 'area')),
    target      TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    position    TEXT NOT NULL CHECK (position IN ('responsible', 'head')),
    PRIMARY KEY (target_kind, target, user_name, position)
);
CREATE TABLE duty_outbox (
    id              {serial},
    key             TEXT NOT NULL UNIQUE,
    alert_id        BIGINT NOT NULL,
    recipient       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    address         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      {ts} NOT NULL,
    next_attempt_at {ts} NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         {ts},
    failed_at       {ts},
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX duty_outbox_due ON duty_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE TABLE duty_escalations (
    alert_id     BIGINT PRIMARY KEY,
    severity     TEXT NOT NULL,
    area         TEXT NOT NULL,
    step         INTEGER NOT NULL,
    next_at      {ts},
    started_at   {ts} NOT NULL,
    stopped_at   {ts},
    stopped_by   TEXT NOT NULL DEFAULT '',
    acked_at     {ts},
    resolved_at  {ts}
);
CREATE INDEX duty_escalations_due ON duty_escalations (next_at) WHERE stopped_at IS NULL;
CREATE TABLE duty_ack_links (
    nonce      TEXT PRIMARY KEY,
    alert_id   BIGINT NOT NULL,
    recipient  TEXT NOT NULL,
    expires_at {ts} NOT NULL,
    used_at    {ts}
);
"""

_TASKS = """
CREATE TABLE duty_tasks (
    id              {serial},
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    area            TEXT NOT NULL,
    assignee        TEXT NOT NULL,
    state           TEXT NOT NULL,
    alert_id        BIGINT,
    created_at      {ts} NOT NULL,
    created_by      TEXT NOT NULL,
    accept_by       {ts} NOT NULL,
    sla_breached_at {ts}
);
CREATE INDEX duty_tasks_open ON duty_tasks (state, accept_by);
CREATE TABLE duty_task_events (
    id      {serial},
    task_id BIGINT NOT NULL REFERENCES duty_tasks (id),
    at      {ts} NOT NULL,
    state   TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX duty_task_events_task ON duty_task_events (task_id, id);
"""

_SILENCES = """
CREATE TABLE duty_silences (
    id             {serial},
    target_kind    TEXT NOT NULL CHECK (target_kind IN ('device', 'group', 'area')),
    target         TEXT NOT NULL,
    starts_at      {ts} NOT NULL,
    ends_at        {ts} NOT NULL,
    reason         TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    ended_early_at {ts}
);
CREATE INDEX duty_silences_ends ON duty_silences (ends_at);
ALTER TABLE duty_escalations ADD COLUMN suppressed TEXT NOT NULL DEFAULT '';
"""

_RULE_TASKS = """
CREATE TABLE duty_rule_tasks (
    history_id BIGINT PRIMARY KEY,
    alert_id   BIGINT NOT NULL,
    handled_at {ts} NOT NULL,
    tasks      INTEGER NOT NULL
);
ALTER TABLE duty_tasks ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX duty_tasks_request_key ON duty_tasks (request_key);
"""

MIGRATIONS: list[Migration] = [
    Migration(COMPONENT, 1, "contacts, responsibility, outbox, escalations, used acknowledgement links",
              postgresql=_TABLES.format(ts="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY"),
              sqlite=_TABLES.format(ts="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT")),
    Migration(COMPONENT, 2, "task orders and their steps",
              postgresql=_TASKS.format(ts="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY"),
              sqlite=_TASKS.format(ts="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT")),
    Migration(COMPONENT, 3, "silences (maintenance windows); suppressed escalations say why",
              postgresql=_SILENCES.format(ts="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY"),
              sqlite=_SILENCES.format(ts="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT")),
    Migration(COMPONENT, 4, "task orders of rules' dispatch_task actions, once per alert transition",
              postgresql=_RULE_TASKS.format(ts="TIMESTAMPTZ"), sqlite=_RULE_TASKS.format(ts="TEXT")),
    # The operator API's event stream is woken by these notifications (streetwatch/database/changes.py);
    # SQLite has none and the stream polls.
    Migration(COMPONENT, 5, "notify the event stream of task orders",
              postgresql=notify_on_change_sql("duty_tasks"), sqlite=""),
]
