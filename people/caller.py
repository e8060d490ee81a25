"""The caller of an operation: who, with which roles in which areas. One place answers "may they?"."""

from __future__ import annotations

from dataclasses import dataclass

from people.grants import Grant
from people.roles import Permission, Role, allows


@dataclass(frozen=True, slots=True)
class Caller:
    """A user as authenticated for one request: by session (all their grants) or by token (one grant)."""

    user: str
    grants: tuple[Grant, ...]
    # The areas under each grant, resolved once per request: {area id of the grant: every id under it}.
    coverage: dict[str, frozenset[str]]
    address: str
    via: str  # "session", "token:<id>" or "cli"

    def roles(self) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants)

    def may(self, permission: Permission) -> bool:
        """True when some grant's role carries ``permission`` (somewhere)."""
        return any(allows(g.role, permission) for g in self.grants)

    def areas_for(self, permission: Permission) -> frozenset[str]:
        """Every area in which the caller holds ``permission``."""
        covered: set[str] = set()
        for grant in self.grants:
            if allows(grant.role, permission):
                covered |= self.coverage.get(grant.area, frozenset())
        return frozenset(covered)

    def may_in(self, permission: Permission, area: str) -> bool:
        return area in self.areas_for(permission)

    def grant_for(self, permission: Permission, area: str) -> Grant | None:
        """The grant that allows ``permission`` in ``area`` (for the audit log's role and area)."""
        for grant in self.grants:
            if allows(grant.role, permission) and area in self.coverage.get(grant.area, frozenset()):
                return grant
        return None
