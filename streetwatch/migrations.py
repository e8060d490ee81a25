"""Versioned, idempotent schema migrations, per component, for both databases.

Each package owns its tables and lists its migrations; ``streetwatch db migrate`` applies every
component's, and each package also applies its own when it opens (so the embedded default needs
no setup step). Applied versions are recorded in ``schema_migrations``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from streetwatch.database import Database

log = logging.getLogger(__name__)

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)
"""
# A fixed key: concurrent migrators (two gateways starting at once) queue instead of racing.
_PG_LOCK_KEY = 0x5757_0001


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step. ``postgresql`` and ``sqlite`` are the DDL for each backend."""

    component: str
    version: int
    name: str
    postgresql: str
    sqlite: str

    def sql_for(self, backend: str) -> str:
        return self.postgresql if backend == "postgresql" else self.sqlite


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    component: str
    version: int
    name: str
    applied_at: str | None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


async def _applied(db: Database, component: str | None = None) -> dict[tuple[str, int], str]:
    await db.execute(_CREATE_TABLE)
    rows = await db.fetch_all("SELECT component, version, applied_at FROM schema_migrations")
    return {(row["component"], row["version"]): row["applied_at"] for row in rows
            if component is None or row["component"] == component}


async def migrate(db: Database, migrations: Sequence[Migration]) -> list[Migration]:
    """Apply, in version order, the migrations not applied yet; return those applied now."""
    done = await _applied(db)
    pending = sorted((m for m in migrations if (m.component, m.version) not in done),
                     key=lambda m: (m.component, m.version))
    applied: list[Migration] = []
    for migration in pending:
        async with db.transaction() as tx:
            if tx.backend == "postgresql":
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
            already = await tx.fetch_one(
                "SELECT 1 AS one FROM schema_migrations WHERE component = ? AND version = ?",
                (migration.component, migration.version),
            )
            if already is not None:  # another process applied it while we waited
                continue
            await tx.script(migration.sql_for(tx.backend))
            await tx.execute(
                "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)",
                (migration.component, migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
        log.info("applied migration %s %d (%s)", migration.component, migration.version, migration.name)
        applied.append(migration)
    return applied


async def status(db: Database, migrations: Sequence[Migration]) -> list[MigrationStatus]:
    done = await _applied(db)
    return [MigrationStatus(m.component, m.version, m.name, done.get((m.component, m.version)))
            for m in sorted(migrations, key=lambda m: (m.component, m.version))]
