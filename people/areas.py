"""Areas: the city's hierarchy (district → street/town → community, or any depth) as data.

>>> await areas.add("baiyun", "Baiyun District", parent="root", level="district")   # doctest: +SKIP
>>> await areas.subtree_ids(["baiyun"])          # baiyun and every area under it   # doctest: +SKIP
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from people.errors import Conflict, Invalid, NotFound
from people.schema import ROOT_AREA
from streetwatch.database import Database

AREA_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    name: str
    parent: str | None
    level: str
    timezone: str | None  # None: the parent's (and at the root, the configured one)
    path: str

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


def _area(row: Mapping[str, object]) -> Area:
    return Area(str(row["id"]), str(row["name"]), None if row["parent"] is None else str(row["parent"]),
                str(row["level"]), None if row["timezone"] is None else str(row["timezone"]), str(row["path"]))


def check_area_id(value: str) -> str:
    if not AREA_ID_PATTERN.match(value):
        raise Invalid("id", f"{value!r}: lower-case letters, digits, '_' and '-', 1 to 64 characters")
    return value


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid("timezone", f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
    return value


_COLUMNS = "id, name, parent, level, timezone, path"
# A prefix test without LIKE: '_' is a LIKE wildcard and area ids may contain it.
_UNDER = "substr(path, 1, ?) = ?"


class Areas:
    """The areas table. Every area but the root has a parent; ids are stable, names may change."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, area_id: str) -> Area | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM areas WHERE id = ?", (area_id,))
        return None if row is None else _area(row)

    async def require(self, area_id: str) -> Area:
        area = await self.get(area_id)
        if area is None:
            raise NotFound(f"no area {area_id!r}")
        return area

    async def list(self, under: str | None = None) -> list[Area]:
        """Every area (or ``under`` and its sub-areas), parents before children."""
        if under is None:
            rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM areas ORDER BY path")
        else:
            top = await self.require(under)
            rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM areas WHERE {_UNDER} ORDER BY path",
                                           (len(top.path), top.path))
        return [_area(row) for row in rows]

    async def add(self, area_id: str, name: str, *, parent: str = ROOT_AREA, level: str,
                  timezone: str | None = None) -> Area:
        check_area_id(area_id)
        check_timezone(timezone)
        if not name.strip():
            raise Invalid("name", "must not be empty")
        if not level.strip():
            raise Invalid("level", "must not be empty (e.g. district, street, community)")
        above = await self.get(parent)
        if above is None:
            raise Invalid("parent", f"no area {parent!r}")
        if await self.get(area_id) is not None:
            raise Conflict(f"area {area_id!r} exists already")
        area = Area(area_id, name.strip(), parent, level.strip(), timezone, f"{above.path}{area_id}/")
        await self.db.execute(f"INSERT INTO areas ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                              (area.id, area.name, area.parent, area.level, area.timezone, area.path))
        return area

    async def move(self, area_id: str, new_parent: str) -> Area:
        """Put ``area_id`` (with its sub-areas) under ``new_parent``."""
        area = await self.require(area_id)
        if area.parent is None:
            raise Invalid("id", "the root area cannot move")
        target = await self.get(new_parent)
        if target is None:
            raise Invalid("parent", f"no area {new_parent!r}")
        if target.path.startswith(area.path):
            raise Conflict(f"cannot move {area_id!r} under its own sub-area {new_parent!r}")
        new_path = f"{target.path}{area.id}/"
        async with self.db.transaction() as tx:
            # Rewrite every path of the subtree: the prefix is replaced, the rest kept.
            await tx.execute(
                f"UPDATE areas SET path = ? || substr(path, ?) WHERE {_UNDER}",
                (new_path, len(area.path) + 1, len(area.path), area.path))
            await tx.execute("UPDATE areas SET parent = ? WHERE id = ?", (new_parent, area_id))
        return await self.require(area_id)

    async def subtree_ids(self, roots: Iterable[str]) -> frozenset[str]:
        """The ids of ``roots`` and of every area under any of them (one query: every API request asks)."""
        wanted = list(dict.fromkeys(roots))
        if not wanted:
            return frozenset()
        rows = await self.db.fetch_all(
            f"SELECT DISTINCT a.id FROM areas a JOIN areas r ON substr(a.path, 1, length(r.path)) = r.path "
            f"WHERE r.id IN ({', '.join('?' * len(wanted))})", wanted)
        return frozenset(str(row["id"]) for row in rows)

    async def timezone_of(self, area_id: str, default: str) -> str:
        """The area's own zone, else the nearest ancestor's, else ``default``."""
        area = await self.require(area_id)
        ancestors = area.path.strip("/").split("/")[::-1]
        for ancestor_id in ancestors:
            ancestor = await self.get(ancestor_id)
            if ancestor is not None and ancestor.timezone:
                return ancestor.timezone
        return default
