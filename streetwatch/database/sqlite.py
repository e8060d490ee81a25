"""SQLite behind :class:`~streetwatch.database.base.Database`: one connection in WAL mode, driven off
the event loop, one writer transaction at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import aiosqlite

from streetwatch.config import DatabaseUrl
from streetwatch.database.base import Database, DatabaseError, DatabaseUnavailable, IntegrityError, Params, Row

_T = TypeVar("_T")


class _SqliteTransaction(Database):
    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            cur = await self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise DatabaseError(str(exc)) from exc
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise DatabaseError(str(exc)) from exc

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            rows = await self._conn.execute_fetchall(sql, params)  # one hop to the SQLite thread, not two
        except sqlite3.Error as exc:
            raise DatabaseError(str(exc)) from exc
        return [dict(row) for row in rows]

    async def script(self, sql: str) -> None:
        # executescript() would COMMIT first; run the statements one by one inside the transaction.
        for statement in _split_statements(sql):
            await self.execute(statement)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        yield self  # already inside one

    async def write_then(self, head: str, params: Params, then: Sequence[tuple[str, Params]] = ()) -> Row | None:
        return await _sqlite_write_then(self._conn, head, params, then, savepoint=True)

    async def write_then_many(self, writes: Sequence[tuple[str, Params, Sequence[tuple[str, Params]]]]
                              ) -> list[Row | None]:
        try:
            return await _in_sqlite_thread(self._conn, _write_then_each, writes)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.Error as exc:
            raise DatabaseError(str(exc)) from exc


async def _sqlite_write_then(conn: aiosqlite.Connection, head: str, params: Params,
                             then: Sequence[tuple[str, Params]], *, savepoint: bool) -> Row | None:
    try:
        return await _in_sqlite_thread(conn, _write_then, head, params, then, savepoint=savepoint)
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise DatabaseError(str(exc)) from exc


async def _in_sqlite_thread(conn: aiosqlite.Connection, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``fn(sqlite3_connection, *args)`` in aiosqlite's thread: several statements, one hop.

    aiosqlite runs each of its own methods this way (``Connection._execute`` with the connection's
    ``_conn``); it has no public call for several statements with parameters.
    """
    run = cast(Callable[..., Awaitable[_T]], conn._execute)  # noqa: SLF001 - see above
    return await run(fn, conn._conn, *args, **kwargs)  # noqa: SLF001 - see above


def _write_then(conn: sqlite3.Connection, head: str, params: Params, then: Sequence[tuple[str, Params]], *,
                savepoint: bool) -> Row | None:
    """:meth:`Database.write_then` on the SQLite connection itself (in its thread)."""
    begin, commit, rollback = (("SAVEPOINT write_then", "RELEASE write_then", "ROLLBACK TO write_then")
                               if savepoint else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"))
    conn.execute(begin)
    try:
        rows = conn.execute(head, params).fetchall()  # all of them: a statement in progress blocks COMMIT
        row = dict(rows[0]) if rows else None
        if row is not None:
            for sql, values in then:
                conn.execute(f"WITH head(id) AS (VALUES (?)) {sql}", (row["id"], *values))
    except BaseException:
        conn.execute(rollback)
        if savepoint:
            conn.execute(commit)
        raise
    conn.execute(commit)
    return row


def _write_then_each(conn: sqlite3.Connection, writes: Sequence[tuple[str, Params, Sequence[tuple[str, Params]]]]
                     ) -> list[Row | None]:
    return [_write_then(conn, head, params, then, savepoint=True) for head, params, then in writes]


def _split_statements(sql: str) -> list[str]:
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


class SqliteDatabase(Database):
    """One SQLite connection (WAL mode) driven off the event loop; one writer transaction at a time."""

    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._inner = _SqliteTransaction(conn)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._lock:
            return await self._inner.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock:
            return await self._inner.fetch_all(sql, params)

    async def script(self, sql: str) -> None:
        async with self.transaction() as tx:
            await tx.script(sql)

    async def write_then(self, head: str, params: Params, then: Sequence[tuple[str, Params]] = ()) -> Row | None:
        async with self._lock:
            return await _sqlite_write_then(self._conn, head, params, then, savepoint=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._inner
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()


def sqlite_connect_args(path: str) -> dict[str, Any]:
    return {"database": path, "isolation_level": None, "timeout": 30.0}


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


@asynccontextmanager
async def open_sqlite(url: DatabaseUrl) -> AsyncIterator[Database]:
    """The SQLite file ``url`` names (made with its folder if missing); closed on leaving."""
    assert url.sqlite_path is not None
    url.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(**sqlite_connect_args(str(url.sqlite_path)))
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"cannot open SQLite database {url.sqlite_path}: {exc}") from exc
    conn.row_factory = aiosqlite.Row
    try:
        for pragma in SQLITE_PRAGMAS:
            await conn.execute(pragma)
        yield SqliteDatabase(conn)
    finally:
        await conn.close()
