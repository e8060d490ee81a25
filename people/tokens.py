"""API tokens for integrations: a role in an area, stored hashed, shown once, with an expiry, revocable.

A token reads ``sw_<id>_<secret>``; only its SHA-256 is stored (the secret has 256 bits of entropy,
so a slow hash would add nothing), and ``<id>`` names it in listings and the audit log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from people.errors import Invalid, NotFound
from people.roles import Role, parse_role
from people.timestamps import as_datetime, stamp
from streetwatch.database import Database

_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_LIFETIME = timedelta(days=730)


def parse_lifetime(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` → a timedelta; at most two years.

    >>> parse_lifetime("90d")
    datetime.timedelta(days=90)
    """
    match = _DURATION.match(text.strip())
    if not match:
        raise Invalid("expires", f"{text!r} is not a lifetime such as 12h, 90d or 2w")
    lifetime = int(match.group(1)) * _UNIT[match.group(2)]
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise Invalid("expires", f"{text!r}: between 1h and {MAX_LIFETIME.days}d")
    return lifetime


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    user: str
    role: Role
    area: str
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token with its secret: the only time the secret exists outside the caller's hands."""

    token: Token
    secret: str


_COLUMNS = "id, user_name, role, area, label, created_at, expires_at, revoked_at"


def _token(row: Mapping[str, object]) -> Token:
    revoked = row["revoked_at"]
    return Token(str(row["id"]), str(row["user_name"]), Role(str(row["role"])), str(row["area"]), str(row["label"]),
                 as_datetime(row["created_at"]), as_datetime(row["expires_at"]),
                 None if revoked is None else as_datetime(revoked))


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, user: str, role: str, area: str, *, lifetime: timedelta, now: datetime,
                     label: str = "") -> IssuedToken:
        """A token for ``user`` as ``role`` in ``area``; the caller checks the user may hold it."""
        try:
            parsed = parse_role(role)
        except ValueError as exc:
            raise Invalid("role", str(exc)) from None
        token_id = secrets.token_hex(4)
        secret = f"sw_{token_id}_{secrets.token_urlsafe(32)}"
        await self.db.execute(
            f"INSERT INTO api_tokens (secret_hash, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (hash_secret(secret), token_id, user, parsed.value, area, label, stamp(now), stamp(now + lifetime), None))
        return IssuedToken(await self.require(token_id), secret)

    async def require(self, token_id: str) -> Token:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,))
        if row is None:
            raise NotFound(f"no token {token_id!r}")
        return _token(row)

    async def list(self, user: str | None = None) -> list[Token]:
        where, params = ("WHERE user_name = ?", (user,)) if user else ("", ())
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY created_at", params)
        return [_token(row) for row in rows]

    async def revoke(self, token_id: str, *, now: datetime) -> Token:
        await self.require(token_id)
        await self.db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                              (stamp(now), token_id))
        return await self.require(token_id)

    async def resolve(self, secret: str, *, now: datetime) -> Token | None:
        """The token ``secret`` stands for, if it is valid now (not expired, not revoked)."""
        found = await self.resolve_with_owner(secret, now=now)
        return found[0] if found is not None else None

    async def resolve_with_owner(self, secret: str, *, now: datetime) -> tuple[Token, bool, str | None] | None:
        """The valid token ``secret`` stands for, whether its user is enabled, and its area's path (None: the
        area is gone), in one query: every API request asks."""
        columns = ", ".join(f"t.{column}" for column in _COLUMNS.split(", "))
        row = await self.db.fetch_one(
            f"SELECT {columns}, u.disabled, a.path AS area_path FROM api_tokens t "
            "JOIN users u ON u.name = t.user_name LEFT JOIN areas a ON a.id = t.area WHERE t.secret_hash = ?",
            (hash_secret(secret),))
        if row is None:
            return None
        token = _token(row)
        if not token.usable_at(now):
            return None
        return token, not row["disabled"], None if row["area_path"] is None else str(row["area_path"])
