"""Who is on duty, who is responsible and who heads an area: the duty plan read against people's areas.

>>> plan = load_duty(settings.duty.duty_dir)                                         # doctest: +SKIP
>>> async with open_roster(settings.database, plan, settings.timezone) as roster:   # doctest: +SKIP
...     await roster.on_duty("jingtai", "duty_officer", clock.now())
'wang'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime

from duty.contacts import Contact, Contacts, Responsibility
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
        self._chains: dict[str, list[str]] | None = None  # while remembering: read once each
        self._zones: dict[str, str] = {}
        self._contacts: dict[str, list[Contact]] = {}

    @contextmanager
    def remembering(self) -> Iterator[None]:
        """Within, each area's chain and zone and each person's contacts are read once: one tick of the
        escalation engine runs a thousand steps in a few areas, and a change made meanwhile counts from the
        next tick."""
        self._chains, self._zones, self._contacts = {}, {}, {}
        try:
            yield
        finally:
            self._chains, self._zones, self._contacts = None, {}, {}

    async def migrate(self) -> None:
        await migrate(self.db, PEOPLE_MIGRATIONS)
        await migrate(self.db, MIGRATIONS)

    async def chain(self, area_id: str) -> list[str]:
        """``area_id`` and every area above it, nearest first (the root last)."""
        if self._chains is not None and area_id in self._chains:
            return list(self._chains[area_id])
        area = await self.areas.get(area_id)
        if area is None:
            raise NotFound(f"no area {area_id!r}")
        chain = area.path.strip("/").split("/")[::-1]
        if self._chains is not None:
            self._chains[area_id] = list(chain)
        return chain

    async def zone(self, area_id: str) -> str:
        if self._chains is not None and area_id in self._zones:
            return self._zones[area_id]
        zone = await self.areas.timezone_of(area_id, self.default_zone)
        if self._chains is not None:
            self._zones[area_id] = zone
        return zone

    async def contacts_of(self, person: str) -> list[Contact]:
        if self._chains is not None and person in self._contacts:
            return self._contacts[person]
        found = await self.contacts.of(person)
        if self._chains is not None:
            self._contacts[person] = found
        return found

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
