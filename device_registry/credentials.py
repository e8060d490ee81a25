"""Broker accounts: one per MQTT device (its id is its user name), one for the gateway, one for operators.

Only the ``$7$`` hash of a password is stored (:mod:`streetwatch.passwords`); the clear password is
returned once, by :meth:`CredentialStore.issue`, to be shown to the installer and then forgotten.
``streetwatch broker config`` writes these hashes into the broker's ``password_file`` as they are.

>>> async with open_registry(url) as registry:                       # doctest: +SKIP
...     issued = await CredentialStore(registry).issue("CG-1", by="alice")
...     print(issued.password)        # the only time it can be seen

Service accounts carry a ``~`` that no device id may contain, so no device can take their name.
Every change writes a device history row (device accounts) and bumps the registry revision, so a
gateway or a broker-config job notices it with the same cheap query as any registry change.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from device_registry import writes
from device_registry.device import DeviceStatus, Transport
from device_registry.errors import RegistryError
from device_registry.history import Changes
from device_registry.registry import Registry
from streetwatch.migrations import Migration, migrate
from streetwatch.passwords import hash_password, new_password

COMPONENT = "broker_accounts"
GATEWAY_USERNAME = "~gateway"
OPERATOR_USERNAME = "~operator"

_TABLE = """
CREATE TABLE broker_accounts (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    issued_at     {ts} NOT NULL,
    issued_by     TEXT NOT NULL
)
"""

MIGRATIONS: list[Migration] = [
    Migration(COMPONENT, 1, "broker accounts (password hashes only)",
              postgresql=_TABLE.format(ts="TIMESTAMPTZ"), sqlite=_TABLE.format(ts="TEXT")),
]


class Role(StrEnum):
    device = "device"
    gateway = "gateway"
    operator = "operator"


SERVICE_USERNAMES = {Role.gateway: GATEWAY_USERNAME, Role.operator: OPERATOR_USERNAME}


@dataclass(frozen=True, slots=True)
class Account:
    """A stored broker account: its name, role and password hash (never the password)."""

    username: str
    role: Role
    password_hash: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedPassword:
    """A password just made: shown once to whoever issued it, never stored in clear."""

    username: str
    password: str
    rotated: bool


class CredentialError(RegistryError):
    """A credential that cannot be issued or revoked; the message names the account and why."""


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class CredentialStore:
    """Broker accounts in the registry's database."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.db = registry.db

    async def migrate(self) -> None:
        await migrate(self.db, MIGRATIONS)

    async def accounts(self) -> builtins.list[Account]:
        """Every account, by user name."""
        rows = await self.db.fetch_all(
            "SELECT username, role, password_hash, issued_at FROM broker_accounts ORDER BY username")
        return [Account(r["username"], Role(r["role"]), r["password_hash"], _time(r["issued_at"])) for r in rows]

    async def has(self, username: str) -> bool:
        return await self.db.fetch_one("SELECT 1 AS one FROM broker_accounts WHERE username = ?",
                                       (username,)) is not None

    async def _check_device(self, device_id: str) -> None:
        device = await self.registry.require(device_id)
        if device.transport is not Transport.mqtt:
            raise CredentialError(f"device {device_id!r} speaks {device.transport.value}: only MQTT devices "
                                  "get broker credentials")
        if device.status is DeviceStatus.retired:
            raise CredentialError(f"device {device_id!r} is retired: it gets no broker credentials")

    async def issue(self, device_id: str, *, by: str, rotate: bool = False) -> IssuedPassword:
        """A new password for an MQTT device; with ``rotate`` the old one stops working at the next reload."""
        await self._check_device(device_id)
        return (await self._store([(device_id, Role.device)], by=by, rotate=rotate))[0]

    async def issue_service(self, role: Role, *, by: str, rotate: bool = False) -> IssuedPassword:
        """A new password for the gateway's or the operators' account."""
        if role is Role.device:
            raise CredentialError("use issue(device_id) for a device")
        return (await self._store([(SERVICE_USERNAMES[role], role)], by=by, rotate=rotate))[0]

    async def issue_missing(self, device_ids: Iterable[str], *, by: str) -> builtins.list[IssuedPassword]:
        """Passwords for those of ``device_ids`` that are MQTT devices in service without one (an import)."""
        devices = await self.registry.get_many(device_ids)
        wanted = [d.id for d in devices.values()
                  if d.transport is Transport.mqtt and d.status is not DeviceStatus.retired]
        rows = await self.db.fetch_all("SELECT username FROM broker_accounts")
        have = {r["username"] for r in rows}
        return await self._store([(i, Role.device) for i in sorted(wanted) if i not in have], by=by, rotate=False)

    async def _store(self, accounts: Sequence[tuple[str, Role]], *, by: str,
                     rotate: bool) -> builtins.list[IssuedPassword]:
        now = self.registry.clock.now()
        issued: builtins.list[IssuedPassword] = []
        history: builtins.list[tuple[str, str, Changes]] = []
        async with self.db.transaction() as tx:
            for username, role in accounts:
                exists = await tx.fetch_one("SELECT 1 AS one FROM broker_accounts WHERE username = ?", (username,))
                if exists is not None and not rotate:
                    raise CredentialError(f"{username!r} already has a broker password; use --rotate to replace it")
                password = new_password()
                await tx.execute("DELETE FROM broker_accounts WHERE username = ?", (username,))
                await tx.execute("INSERT INTO broker_accounts (username, role, password_hash, issued_at, issued_by) "
                                 "VALUES (?, ?, ?, ?, ?)", (username, role.value, hash_password(password),
                                                             now.isoformat(), by))
                issued.append(IssuedPassword(username, password, rotated=exists is not None))
                if role is Role.device:
                    action = "credentials rotated" if exists is not None else "credentials issued"
                    history.append((username, action, {}))
            if history:
                await writes.record(tx, history, by, "", now)
            else:
                await writes.bump_revision(tx)
        return issued

    async def revoke(self, username: str, *, by: str) -> None:
        """Remove an account's password: it cannot connect after the broker's next reload."""
        now = self.registry.clock.now()
        async with self.db.transaction() as tx:
            role = await tx.fetch_value("SELECT role FROM broker_accounts WHERE username = ?", (username,))
            if role is None:
                raise CredentialError(f"{username!r} has no broker password to revoke")
            await tx.execute("DELETE FROM broker_accounts WHERE username = ?", (username,))
            if role == Role.device.value:
                await writes.record(tx, [(username, "credentials revoked", {})], by, "", now)
            else:
                await writes.bump_revision(tx)
