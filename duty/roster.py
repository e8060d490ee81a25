"""Who is on duty, who is responsible and who heads an area: the duty plan read against people's areas.

>>> plan = load_duty(settings.duty.duty_dir)                                         # doctest: +SKIP
>>> async with open_roster(settings.database, plan, settings.timezone) as roster:   # doctest: +SKIP
...     await roster.on_duty("jingtai", "duty_officer", clock.now())
'wang'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from duty.contacts import Contacts, Responsibility
from duty.files import DutyPlan, reference_problems
from duty.schema import MIGRATIONS
from people import Areas, Users
from people.errors import NotFound
from people.schema import MIGRATIONS as PEOPLE_MIGRATIONS
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, open_database
from streetwatch.migrations import migrate


class Roster:
    """The duty plan, contacts and responsibility over one database."""

    def __init__(self, db: Database, plan: DutyPlan, default_zone: str) -> None:
        self.db = db
        self.plan = plan
        self.default_zone = default_zone
        self.areas = Areas(db)
        self.users = Users(db)
        self.contacts = Contacts(db)
        self.responsibility = Responsibility(db)

    async def migrate(self) -> None:
        await migrate(self.db, PEOPLE_MIGRATIONS)
        await migrate(self.db, MIGRATIONS)

    async def chain(self, area_id: str) -> list[str]:
        """``area_id`` and every area above it, nearest first (the root last)."""
        area = await self.areas.get(area_id)
        if area is None:
            raise NotFound(f"no area {area_id!r}")
        return area.path.strip("/").split("/")[::-1]

    async def zone(self, area_id: str) -> str:
        return await self.areas.timezone_of(area_id, self.default_zone)

    async def on_duty(self, area_id: str, role: str, at: datetime) -> str | None:
        """The person on duty in ``area_id`` for ``role`` at ``at``, by the area's rota in the area's zone."""
        rota = self.plan.rota(area_id, role)
        if rota is None:
            return None
        return rota.on_duty(at, await self.zone(area_id))

    async def problems(self) -> list[str]:
        """References in the plan to areas or people that do not exist."""
        areas = [a.id for a in await self.areas.list()]
        people = [u.name for u in await self.users.list()]
        return reference_problems(self.plan, areas=areas, people=people)


@asynccontextmanager
async def open_roster(url: DatabaseUrl, plan: DutyPlan, default_zone: str) -> AsyncIterator[Roster]:
    async with open_database(url) as db:
        roster = Roster(db, plan, default_zone)
        await roster.migrate()
        yield roster
