"""People, areas and access: who may do what, where, and the audit log of what they did.

    from people import open_people, Permission

    async with open_people(settings.database) as people:
        await people.areas.add("baiyun", "Baiyun District", level="district")
        caller = await people.caller_for_user("li", address="cli", via="cli")
        caller.may_in(Permission.commands_create, "baiyun")
"""

from __future__ import annotations

from people.areas import Area, Areas
from people.audit import CLI_ADDRESS, AuditEntry, AuditLog
from people.caller import Caller
from people.directory import People, open_people
from people.errors import Conflict, Invalid, NotFound, PeopleError
from people.grants import Grant, Grants
from people.logins import LoginPolicy, Logins, NewSession, Session
from people.roles import PERMISSIONS, Permission, Role, allows, parse_role
from people.schema import MIGRATIONS, ROOT_AREA
from people.tokens import IssuedToken, Token, Tokens, parse_lifetime
from people.users import User, Users

__all__ = [
    "CLI_ADDRESS",
    "MIGRATIONS",
    "PERMISSIONS",
    "ROOT_AREA",
    "Area",
    "Areas",
    "AuditEntry",
    "AuditLog",
    "Caller",
    "Conflict",
    "Grant",
    "Grants",
    "Invalid",
    "IssuedToken",
    "LoginPolicy",
    "Logins",
    "NewSession",
    "NotFound",
    "People",
    "PeopleError",
    "Permission",
    "Role",
    "Session",
    "Token",
    "Tokens",
    "User",
    "Users",
    "allows",
    "open_people",
    "parse_lifetime",
    "parse_role",
]
