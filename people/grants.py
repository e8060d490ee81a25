"""Grants: a user holds a role in an area, covering every area under it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from people.errors import Invalid, NotFound
from people.roles import Role, parse_role
from people.timestamps import stamp
from streetwatch.database import Database


@dataclass(frozen=True, slots=True)
class Grant:
    user: str
    role: Role
    area: str


def _grant(row: Mapping[str, object]) -> Grant:
    return Grant(str(row["user_name"]), Role(str(row["role"])), str(row["area"]))


class Grants:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, user: str) -> list[Grant]:
        rows = await self.db.fetch_all(
            "SELECT user_name, role, area FROM grants WHERE user_name = ? ORDER BY role, area", (user,))
        return [_grant(row) for row in rows]

    async def all(self) -> list[Grant]:
        rows = await self.db.fetch_all("SELECT user_name, role, area FROM grants ORDER BY user_name, role, area")
        return [_grant(row) for row in rows]

    async def grant(self, user: str, role: str, area: str, *, by: str, now: datetime) -> Grant:
        try:
            parsed = parse_role(role)
        except ValueError as exc:
            raise Invalid("role", str(exc)) from None
        if await self.db.fetch_one("SELECT 1 AS one FROM users WHERE name = ?", (user,)) is None:
            raise Invalid("user", f"no user {user!r}")
        if await self.db.fetch_one("SELECT 1 AS one FROM areas WHERE id = ?", (area,)) is None:
            raise Invalid("area", f"no area {area!r}")
        if not await self.holds(user, parsed, area):
            await self.db.execute(
                "INSERT INTO grants (user_name, role, area, granted_at, granted_by) VALUES (?, ?, ?, ?, ?)",
                (user, parsed.value, area, stamp(now), by))
        return Grant(user, parsed, area)

    async def revoke(self, user: str, role: str, area: str) -> None:
        changed = await self.db.execute("DELETE FROM grants WHERE user_name = ? AND role = ? AND area = ?",
                                        (user, role, area))
        if not changed:
            raise NotFound(f"{user} holds no {role} grant in {area!r}")

    async def holds(self, user: str, role: Role, area: str) -> bool:
        """True when ``user`` holds ``role`` exactly in ``area`` (not through a parent)."""
        row = await self.db.fetch_one("SELECT 1 AS one FROM grants WHERE user_name = ? AND role = ? AND area = ?",
                                      (user, role.value, area))
        return row is not None
