"""Which schedule a group or a site follows, kept in the database (``streetwatch schedule assign``).

A lamp follows the schedule of its group if one of its groups has one (the first of its groups, in
the device's own order, that has one), else the schedule of its site, else none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from control.errors import ControlError
from control.migrations import MIGRATIONS
from control.store import from_db, to_db
from device_registry import Device
from streetwatch.clock import Clock, SystemClock
from streetwatch.database import Database
from streetwatch.migrations import migrate

ScopeKind = Literal["group", "site"]


@dataclass(frozen=True, slots=True)
class Assignment:
    scope_kind: ScopeKind
    scope_value: str
    schedule: str
    assigned_by: str
    assigned_at: datetime

    @property
    def scope(self) -> str:
        return f"{self.scope_kind}:{self.scope_value}"


def schedule_for(device: Device, assignments: list[Assignment]) -> Assignment | None:
    """The assignment a device follows: its first group that has one, else its site's."""
    by_scope = {(a.scope_kind, a.scope_value): a for a in assignments}
    for group in device.groups:
        if ("group", group) in by_scope:
            return by_scope[("group", group)]
    if device.site:
        return by_scope.get(("site", device.site))
    return None


class AssignmentStore:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()

    @classmethod
    async def open(cls, db: Database, clock: Clock | None = None) -> AssignmentStore:
        await migrate(db, MIGRATIONS)
        return cls(db, clock)

    async def assign(self, scope_kind: ScopeKind, scope_value: str, schedule: str, *, by: str) -> Assignment:
        """Make the group or site follow ``schedule`` (replacing what it followed)."""
        if scope_kind not in ("group", "site") or not scope_value:
            raise ControlError(f"assign to a group or a site, not {scope_kind}:{scope_value}")
        now = self.clock.now()
        await self.db.execute(
            "INSERT INTO control_schedule_assignments (scope_kind, scope_value, schedule, assigned_by, assigned_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope_kind, scope_value) DO UPDATE SET "
            "schedule = excluded.schedule, assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at",
            (scope_kind, scope_value, schedule, by, to_db(now, self.db.backend)))
        return Assignment(scope_kind, scope_value, schedule, by, now)

    async def unassign(self, scope_kind: ScopeKind, scope_value: str) -> bool:
        changed = await self.db.execute(
            "DELETE FROM control_schedule_assignments WHERE scope_kind = ? AND scope_value = ?",
            (scope_kind, scope_value))
        return changed > 0

    async def all(self) -> list[Assignment]:
        rows = await self.db.fetch_all(
            "SELECT scope_kind, scope_value, schedule, assigned_by, assigned_at FROM control_schedule_assignments "
            "ORDER BY scope_kind, scope_value")
        out = []
        for row in rows:
            assigned_at = from_db(row["assigned_at"])
            assert assigned_at is not None
            out.append(Assignment(row["scope_kind"], row["scope_value"], row["schedule"], row["assigned_by"],
                                  assigned_at))
        return out
