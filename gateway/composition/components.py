"""Every package's schema migrations, in one place: the gateway composes the packages."""

from __future__ import annotations

from control import MIGRATIONS as CONTROL_MIGRATIONS
from device_registry import MIGRATIONS as REGISTRY_MIGRATIONS
from device_registry.credentials import MIGRATIONS as CREDENTIAL_MIGRATIONS
from duty import MIGRATIONS as DUTY_MIGRATIONS
from gateway.intake.schema import MIGRATIONS as GATEWAY_MIGRATIONS
from hydrology import MIGRATIONS as HYDROLOGY_MIGRATIONS
from people import MIGRATIONS as PEOPLE_MIGRATIONS
from rules.schema import MIGRATIONS as RULES_MIGRATIONS
from streetwatch.migrations import Migration
from telemetry_store import MIGRATIONS as TELEMETRY_STORE_MIGRATIONS
from web.schema import MIGRATIONS as WEB_MIGRATIONS


def all_migrations() -> list[Migration]:
    """The migrations of every component the gateway runs."""
    migrations: list[Migration] = []
    migrations += REGISTRY_MIGRATIONS
    migrations += CREDENTIAL_MIGRATIONS
    migrations += TELEMETRY_STORE_MIGRATIONS
    migrations += RULES_MIGRATIONS
    migrations += CONTROL_MIGRATIONS
    migrations += HYDROLOGY_MIGRATIONS
    migrations += GATEWAY_MIGRATIONS
    migrations += PEOPLE_MIGRATIONS
    migrations += WEB_MIGRATIONS
    migrations += DUTY_MIGRATIONS
    return migrations
