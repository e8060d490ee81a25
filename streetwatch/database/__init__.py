"""One small async interface over the two databases Streetwatch runs on.

SQL is written once with ``?`` placeholders; the PostgreSQL side rewrites them to psycopg's ``%s``.
Where the dialects differ, callers branch on :attr:`Database.backend`. Hot paths that need more
than this (the telemetry store's binary COPY) open their own connections from the same URL.

>>> async with open_database(DatabaseUrl.parse("sqlite:///x.db")) as db:   # doctest: +SKIP
...     await db.execute("INSERT INTO t (a) VALUES (?)", (1,))
...     async with db.transaction() as tx:
...         row = await tx.fetch_one("SELECT a FROM t")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from streetwatch.config import DatabaseUrl
from streetwatch.database.base import Database, DatabaseError, DatabaseUnavailable, IntegrityError, Params, Row
from streetwatch.database.postgres import PostgresDatabase, open_postgres
from streetwatch.database.sqlite import SQLITE_PRAGMAS, SqliteDatabase, open_sqlite, sqlite_connect_args

__all__ = [
    "SQLITE_PRAGMAS",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "IntegrityError",
    "Params",
    "PostgresDatabase",
    "Row",
    "SqliteDatabase",
    "open_database",
    "sqlite_connect_args",
]


@asynccontextmanager
async def open_database(
    url: DatabaseUrl, *, max_connections: int = 10, connect_timeout: float = 10.0
) -> AsyncIterator[Database]:
    """Open the database ``url`` names; close it on leaving."""
    if url.backend == "sqlite":
        async with open_sqlite(url) as db:
            yield db
        return
    async with open_postgres(url, max_connections=max_connections, connect_timeout=connect_timeout) as db:
        yield db
