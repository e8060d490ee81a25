"""Every package's schema migrations, in one place: the gateway composes the packages."""

from __future__ import annotations

from streetwatch.migrations import Migration
from telemetry_store import MIGRATIONS as TELEMETRY_STORE_MIGRATIONS


def all_migrations() -> list[Migration]:
    """The migrations of every component the gateway runs."""
    migrations: list[Migration] = []
    migrations += TELEMETRY_STORE_MIGRATIONS
    return migrations
