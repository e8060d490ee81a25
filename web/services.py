"""What one web process holds open: the database and the library objects the CLI uses on it.

The process keeps no state of its own beyond a cache of profiles and its rate-limit counters, so several
can serve the same database behind a proxy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from control import CommandStore
from device_registry import Registry
from duty import MIGRATIONS as DUTY_MIGRATIONS
from duty.ack_links import AckSigner, load_key
from hydrology import MIGRATIONS as HYDROLOGY_MIGRATIONS
from people import People
from rules.alert_store import AlertStore
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import Database, open_database
from streetwatch.migrations import migrate
from telemetry_store import TelemetryStore, open_store
from web.approvals import Approvals
from web.geojson_cache import GeoJsonCache
from web.preferences import MIGRATIONS as CONSOLE_MIGRATIONS
from web.ratelimit import RateLimiter
from web.schema import MIGRATIONS


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    registry: Registry
    alerts: AlertStore
    commands: CommandStore
    people: People
    store: TelemetryStore
    approvals: Approvals
    limiter: RateLimiter
    ack_signer: AckSigner
    geojson: GeoJsonCache = field(default_factory=GeoJsonCache)

    async def unit_of(self, profile: str, metric: str) -> str:
        library = await self.registry.profiles()
        return library.get(profile).unit_of(metric) if profile in library else ""


@asynccontextmanager
async def open_services(settings: Settings, clock: Clock) -> AsyncIterator[Services]:
    """Open the database (migrating what the API reads and writes) and build the services on it."""
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_database(settings.database))
        registry = Registry(db, profiles_dir=settings.profiles_dir, clock=clock)
        await registry.migrate()
        alerts = AlertStore(db)
        await alerts.migrate()
        commands = await CommandStore.open(db, clock)
        people = People(db)
        await people.migrate()
        await migrate(db, MIGRATIONS)
        await migrate(db, DUTY_MIGRATIONS)
        await migrate(db, HYDROLOGY_MIGRATIONS)  # the water report and the hazard points the console shows
        await migrate(db, CONSOLE_MIGRATIONS)
        store = await stack.enter_async_context(open_store(settings.database, settings.store))
        yield Services(settings, clock, db, registry, alerts, commands, people, store, Approvals(db),
                       RateLimiter(settings.api.requests_per_minute, clock.monotonic),
                       AckSigner(load_key(settings.duty.ack_secret.get_secret_value(), settings.data_dir)))
