"""Roles and what each may do, as data: one table decides, every skin (CLI, API, console) asks it.

A grant is a role *in an area*; it covers that area and every area under it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    duty_officer = "duty_officer"
    installer = "installer"
    admin = "admin"


class Permission(StrEnum):
    read = "read"                        # areas, devices, readings, alerts, commands, schedules, energy
    alerts_manage = "alerts.manage"      # acknowledge and clear alerts
    commands_create = "commands.create"  # dim, switch, assign schedules
    commands_cancel = "commands.cancel"
    commands_approve = "commands.approve"  # the second person of the two-person rule
    devices_manage = "devices.manage"    # register and change devices
    audit_read = "audit.read"
    people_manage = "people.manage"      # areas, users, grants, tokens


_ALL = frozenset(Permission)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.viewer: frozenset({Permission.read}),
    Role.operator: frozenset({Permission.read, Permission.commands_create, Permission.commands_cancel,
                              Permission.commands_approve}),
    Role.duty_officer: frozenset({Permission.read, Permission.alerts_manage, Permission.commands_create,
                                  Permission.commands_cancel, Permission.commands_approve}),
    Role.installer: frozenset({Permission.read, Permission.devices_manage}),
    Role.admin: _ALL,
}


def allows(role: Role, permission: Permission) -> bool:
    """True when ``role`` carries ``permission``.

    >>> allows(Role.viewer, Permission.commands_create)
    False
    """
    return permission in PERMISSIONS[role]


def parse_role(text: str) -> Role:
    """The role named ``text``, or ValueError listing the roles."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r} (roles: {', '.join(r.value for r in Role)})") from None
