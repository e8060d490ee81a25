"""The people package's tables: areas, users, grants, API tokens, browser sessions, login failures, audit log.

Areas keep a materialised ``path`` (``/root/baiyun/jingtai/``) so "this area and every area under it" is
one prefix comparison, at any depth; moving an area rewrites the paths of its subtree in one transaction.
"""

from __future__ import annotations

from streetwatch.migrations import Migration

COMPONENT = "people"
ROOT_AREA = "root"

_TABLES = """
CREATE TABLE areas (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    parent    TEXT REFERENCES areas (id),
    level     TEXT NOT NULL,
    timezone  TEXT,
    path      TEXT NOT NULL UNIQUE
);
CREATE INDEX areas_parent ON areas (parent);
INSERT INTO areas (id, name, parent, level, timezone, path) VALUES ('root', 'City', NULL, 'city', NULL, '/root/');
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    {ts} NOT NULL
);
CREATE TABLE grants (
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    area       TEXT NOT NULL REFERENCES areas (id),
    granted_at {ts} NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (user_name, role, area)
);
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    area        TEXT NOT NULL REFERENCES areas (id),
    label       TEXT NOT NULL DEFAULT '',
    created_at  {ts} NOT NULL,
    expires_at  {ts} NOT NULL,
    revoked_at  {ts}
);
CREATE TABLE web_sessions (
    secret_hash TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  {ts} NOT NULL,
    expires_at  {ts} NOT NULL
);
CREATE TABLE login_failures (
    user_name TEXT NOT NULL,
    address   TEXT NOT NULL,
    at        {ts} NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (user_name, at);
CREATE INDEX login_failures_address ON login_failures (address, at);
CREATE TABLE audit_log (
    seq     {serial},
    at      {ts} NOT NULL,
    actor   TEXT NOT NULL,
    role    TEXT NOT NULL,
    area    TEXT NOT NULL,
    address TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL,
    result  TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_at ON audit_log (at);
"""

# The audit log is append-only in the database itself, not only by convention.
_PG_APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
_SQLITE_APPEND_ONLY = """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

MIGRATIONS: list[Migration] = [
    Migration(
        COMPONENT, 1, "areas, users, grants, API tokens, sessions, login failures, append-only audit log",
        postgresql=_TABLES.format(ts="TIMESTAMPTZ", serial="BIGSERIAL PRIMARY KEY") + _PG_APPEND_ONLY,
        sqlite=_TABLES.format(ts="TEXT", serial="INTEGER PRIMARY KEY AUTOINCREMENT") + _SQLITE_APPEND_ONLY,
    ),
]
