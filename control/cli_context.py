"""What the control commands share: the opened parts, errors at the edge, targets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import typer

from control.assignments import AssignmentStore
from control.errors import ControlError
from control.library import ScheduleLibrary
from control.lookup import RegistryLookup
from control.model import CommandTarget
from control.store import CommandStore
from device_registry import Registry, RegistryError
from streetwatch.cli_support import UserError, run_guarded, settings
from streetwatch.config import Settings
from streetwatch.database import Database, open_database

T = TypeVar("T")
BY_HELP = "who asks, for the audit trail (default: your OS user)"
TARGET_HELP = "a device id, group:NAME, site:NAME or tag:KEY=VALUE"


@dataclass
class Control:
    """Everything a control command may need, on the configured database."""

    settings: Settings
    db: Database
    registry: Registry
    store: CommandStore
    assignments: AssignmentStore

    @property
    def directory(self) -> RegistryLookup:
        return RegistryLookup(self.registry)

    def schedules(self) -> ScheduleLibrary:
        return ScheduleLibrary.load(self.settings.schedules_dir)

    def local(self, ts: datetime | None) -> str:
        """A time as operators read it: in the configured zone, to the second."""
        return "" if ts is None else ts.astimezone(self.settings.zone).strftime("%Y-%m-%d %H:%M:%S")


@asynccontextmanager
async def open_control(current: Settings) -> AsyncIterator[Control]:
    async with open_database(current.database) as db:
        registry = Registry(db, profiles_dir=current.profiles_dir)
        await registry.migrate()
        store = await CommandStore.open(db)
        yield Control(current, db, registry, store, AssignmentStore(db))


def with_control(ctx: typer.Context, action: Callable[[Control], Awaitable[T]]) -> T:
    """Open the configured database, run ``action``, and turn domain errors into one line."""
    current = settings(ctx)

    async def go() -> T:
        async with open_control(current) as control:
            return await action(control)

    return run_guarded(go(), (ControlError, RegistryError))


def parse_target(target: str | None, tag: str | None) -> CommandTarget:
    """TARGET (``LP-1``, ``group:NAME``, ``site:NAME``, ``tag:K=V``) or ``--tag K=V``, exactly one."""
    if (target is None) == (tag is None):
        raise UserError("give a TARGET (a device id, group:NAME, site:NAME) or --tag KEY=VALUE, one of them")
    try:
        return CommandTarget("tag", tag) if tag is not None else CommandTarget.parse(target or "")
    except ControlError as exc:
        raise UserError(f"target: {exc}") from None
