"""People, areas and access in one database: the facade the CLI and the web process open.

>>> async with open_people(settings.database) as people:                  # doctest: +SKIP
...     caller = await people.caller_for_token(secret, address="10.0.0.7", now=clock.now())
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from people.areas import Areas
from people.audit import AuditLog
from people.caller import Caller
from people.errors import Invalid
from people.grants import Grant, Grants
from people.logins import LoginPolicy, Logins
from people.roles import parse_role
from people.schema import MIGRATIONS
from people.tokens import IssuedToken, Tokens
from people.users import Users
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, open_database
from streetwatch.migrations import migrate


def _held(grants: Iterable[Grant], role: str, area_path: str) -> bool:
    """True when one of ``grants`` is ``role`` in the area at ``area_path`` or in an area above it."""
    ancestors = set(area_path.strip("/").split("/"))
    return any(g.role.value == role and g.area in ancestors for g in grants)


class People:
    def __init__(self, db: Database, *, login_policy: LoginPolicy | None = None) -> None:
        self.db = db
        self.areas = Areas(db)
        self.users = Users(db)
        self.grants = Grants(db)
        self.tokens = Tokens(db)
        self.logins = Logins(db, login_policy)
        self.audit = AuditLog(db)

    async def migrate(self) -> None:
        await migrate(self.db, MIGRATIONS)

    async def _caller(self, user: str, grants: Iterable[Grant], *, address: str, via: str) -> Caller:
        chosen = tuple(grants)
        coverage = {g.area: await self.areas.subtree_ids([g.area]) for g in chosen}
        return Caller(user, chosen, coverage, address, via)

    async def caller_for_user(self, user: str, *, address: str, via: str) -> Caller | None:
        """The user with all their grants, or None when unknown or disabled."""
        found = await self.users.get(user)
        if found is None or found.disabled:
            return None
        return await self._caller(user, await self.grants.of(user), address=address, via=via)

    async def caller_for_token(self, secret: str, *, address: str, now: datetime) -> Caller | None:
        """The token's user with the token's one grant, while the token, the user and that grant are valid."""
        found = await self.tokens.resolve_with_owner(secret, now=now)  # token, user and area in one query
        if found is None:
            return None
        token, enabled, area_path = found
        if not enabled or area_path is None:
            return None
        # A token never carries more than its user holds now: a grant withdrawn later disarms the token.
        if not _held(await self.grants.of(token.user), token.role.value, area_path):
            return None
        return await self._caller(token.user, [Grant(token.user, token.role, token.area)], address=address,
                                  via=f"token:{token.id}")

    async def covers(self, user: str, role: str, area: str) -> bool:
        """True when ``user`` holds ``role`` in ``area`` or in an area above it."""
        target = await self.areas.get(area)
        return target is not None and _held(await self.grants.of(user), role, target.path)

    async def issue_token(self, user: str, role: str, area: str, *, lifetime: timedelta, now: datetime,
                          label: str = "") -> IssuedToken:
        """A token for a role the user holds in ``area`` (or above it); shown once."""
        await self.users.require(user)
        try:
            parse_role(role)
        except ValueError as exc:
            raise Invalid("role", str(exc)) from None
        if await self.areas.get(area) is None:
            raise Invalid("area", f"no area {area!r}")
        if not await self.covers(user, role, area):
            raise Invalid("role", f"{user} holds no {role} grant in {area!r} or above it")
        return await self.tokens.create(user, role, area, lifetime=lifetime, now=now, label=label)


@asynccontextmanager
async def open_people(url: DatabaseUrl, *, login_policy: LoginPolicy | None = None) -> AsyncIterator[People]:
    """Open the database, apply this package's migrations, and hand out the facade."""
    async with open_database(url) as db:
        people = People(db, login_policy=login_policy)
        await people.migrate()
        yield people
