"""Users: a name, an argon2 password hash, a disabled flag. Passwords are never stored or logged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from people.errors import Conflict, Invalid, NotFound
from people.timestamps import as_datetime, stamp
from streetwatch.database import Database

USER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()
# Verified when the user is unknown, so a wrong name costs as long as a wrong password (no user probing).
_DUMMY_HASH = _HASHER.hash("streetwatch-no-such-user")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    display_name: str
    disabled: bool
    created_at: datetime


def _user(row: Mapping[str, object]) -> User:
    return User(str(row["name"]), str(row["display_name"]), bool(row["disabled"]), as_datetime(row["created_at"]))


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    return password


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, name: str) -> User | None:
        row = await self.db.fetch_one("SELECT name, display_name, disabled, created_at FROM users WHERE name = ?",
                                      (name,))
        return None if row is None else _user(row)

    async def require(self, name: str) -> User:
        user = await self.get(name)
        if user is None:
            raise NotFound(f"no user {name!r}")
        return user

    async def list(self) -> list[User]:
        rows = await self.db.fetch_all("SELECT name, display_name, disabled, created_at FROM users ORDER BY name")
        return [_user(row) for row in rows]

    async def add(self, name: str, password: str, *, now: datetime, display_name: str = "") -> User:
        if not USER_NAME_PATTERN.match(name):
            raise Invalid("name", f"{name!r}: letters, digits, '.', '_', '@' and '-', 1 to 64 characters")
        check_password(password)
        if await self.get(name) is not None:
            raise Conflict(f"user {name!r} exists already")
        await self.db.execute(
            "INSERT INTO users (name, display_name, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, display_name, _HASHER.hash(password), False, stamp(now)))
        return await self.require(name)

    async def set_password(self, name: str, password: str) -> None:
        await self.require(name)
        check_password(password)
        await self.db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (_HASHER.hash(password), name))

    async def set_disabled(self, name: str, disabled: bool) -> None:
        await self.require(name)
        await self.db.execute("UPDATE users SET disabled = ? WHERE name = ?", (disabled, name))

    async def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs and they are not disabled; else None."""
        row = await self.db.fetch_one(
            "SELECT name, display_name, disabled, created_at, password_hash FROM users WHERE name = ?", (name,))
        stored = _DUMMY_HASH if row is None else str(row["password_hash"])
        try:
            _HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or bool(row["disabled"]):
            return None
        if _HASHER.check_needs_rehash(stored):  # parameters raised since it was set: upgrade quietly
            await self.db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (_HASHER.hash(password), name))
        return _user(row)
