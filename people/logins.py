"""Browser sessions and the login guard: sessions live in the database, so any web process serves any request.

A session cookie holds a random secret; only its SHA-256 is stored. Each session has its own CSRF token,
which a state-changing request must echo in a header. Failed logins are counted per user and per address;
past the limit within the window, logins are refused until the window has passed (even with the right
password), so guessing is slow whichever of the two the guesser varies.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from people.timestamps import as_datetime, stamp
from people.tokens import hash_secret
from streetwatch.database import Database

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures_per_user: int = 5
    max_failures_per_address: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewSession:
    session: Session
    secret: str


def _session(row: Mapping[str, object]) -> Session:
    return Session(str(row["user_name"]), str(row["csrf_token"]), as_datetime(row["expires_at"]))


class Logins:
    def __init__(self, db: Database, policy: LoginPolicy | None = None) -> None:
        self.db = db
        self.policy = policy or LoginPolicy()

    async def locked_out(self, user: str, address: str, *, now: datetime) -> datetime | None:
        """When the lockout of ``user`` or ``address`` ends, or None if logins are open."""
        since = stamp(now - self.policy.window)
        for column, value, limit in (("user_name", user, self.policy.max_failures_per_user),
                                     ("address", address, self.policy.max_failures_per_address)):
            rows = await self.db.fetch_all(
                f"SELECT at FROM login_failures WHERE {column} = ? AND at > ? ORDER BY at DESC", (value, since))
            if len(rows) >= limit:
                # Open again once the oldest failure that still counts leaves the window.
                return as_datetime(rows[limit - 1]["at"]) + self.policy.window
        return None

    async def record_failure(self, user: str, address: str, *, now: datetime) -> None:
        await self.db.execute("DELETE FROM login_failures WHERE at < ?", (stamp(now - self.policy.window),))
        await self.db.execute("INSERT INTO login_failures (user_name, address, at) VALUES (?, ?, ?)",
                              (user, address, stamp(now)))

    async def start_session(self, user: str, *, now: datetime) -> NewSession:
        secret = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), now + SESSION_LIFETIME)
        await self.db.execute("DELETE FROM login_failures WHERE user_name = ?", (user,))
        await self.db.execute(
            "INSERT INTO web_sessions (secret_hash, user_name, csrf_token, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)", (hash_secret(secret), user, session.csrf_token, stamp(now),
                                       stamp(session.expires_at)))
        return NewSession(session, secret)

    async def session(self, secret: str, *, now: datetime) -> Session | None:
        row = await self.db.fetch_one(
            "SELECT user_name, csrf_token, expires_at FROM web_sessions WHERE secret_hash = ?", (hash_secret(secret),))
        if row is None:
            return None
        session = _session(row)
        return session if now < session.expires_at else None

    async def end_session(self, secret: str) -> None:
        await self.db.execute("DELETE FROM web_sessions WHERE secret_hash = ?", (hash_secret(secret),))
