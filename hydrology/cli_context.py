"""What the ``streetwatch water`` commands share: the opened database and stores, errors at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import typer

from device_registry import Registry, RegistryError
from hydrology.errors import HydrologyError
from hydrology.sections import SectionStore
from streetwatch.cli_support import run_guarded, settings
from streetwatch.config import Settings
from streetwatch.database import Database, open_database
from telemetry_store import StoreError, TelemetryStore, open_store

T = TypeVar("T")


@dataclass
class Water:
    settings: Settings
    db: Database
    sections: SectionStore

    @asynccontextmanager
    async def store(self) -> AsyncIterator[TelemetryStore]:
        async with open_store(self.settings.database, self.settings.store) as store:
            yield store


def with_water(ctx: typer.Context, action: Callable[[Water], Awaitable[T]]) -> T:
    current = settings(ctx)

    async def go() -> T:
        async with open_database(current.database) as db, SectionStore.open(db) as sections:
            return await action(Water(current, db, sections))

    return run_guarded(go(), (HydrologyError, RegistryError, StoreError))


async def registry_of(water: Water) -> Registry:
    registry = Registry(water.db, profiles_dir=water.settings.profiles_dir)
    await registry.migrate()
    return registry
