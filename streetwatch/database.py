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

import asyncio
import functools
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal, TypeVar, cast

import aiosqlite
import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from streetwatch.config import DatabaseUrl

Row = Mapping[str, Any]
Params = Sequence[Any]
_T = TypeVar("_T")


class DatabaseError(Exception):
    """A database operation failed."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (refused, down, timed out)."""


class IntegrityError(DatabaseError):
    """A uniqueness or foreign-key rule refused the change."""


@functools.lru_cache(maxsize=1024)
def _to_psycopg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _chained(head: str, params: Params, then: Sequence[tuple[str, Params]]) -> tuple[str, list[Any]]:
    """:meth:`Database.write_then` as one PostgreSQL statement (placeholders stay in text order).

    PostgreSQL runs the data-modifying parts of a statement in no set order; each ``then`` after the
    first reads ``head`` joined to the previous one's RETURNING row, so they run in the order given.
    """
    ctes = [f"head AS ({head})"]
    for i, (sql, _) in enumerate(then):
        after = f"WITH head AS (SELECT head.id FROM head, then_{i - 1}) " if i else ""
        ctes.append(f"then_{i} AS ({after}{sql} RETURNING 1 AS done)")
    values = [*params, *(value for _, p in then for value in p)]
    return f"WITH {', '.join(ctes)} SELECT * FROM head", values


class Database(ABC):
    """Async access to one database, the same for PostgreSQL and SQLite."""

    backend: Literal["postgresql", "sqlite"]

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter row."""

    @abstractmethod
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows as mappings of column name to value."""

    @abstractmethod
    async def script(self, sql: str) -> None:
        """Run several statements without parameters (DDL)."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Database]:
        """A database bound to one transaction: committed on success, rolled back on error."""

    @abstractmethod
    async def write_then(self, head: str, params: Params, then: Sequence[tuple[str, Params]] = ()) -> Row | None:
        """Run ``head``, an INSERT or UPDATE … RETURNING at most one row, and if it returned one, each
        statement of ``then`` with a table ``head(id)`` holding that row's ``id``; atomically, in one
        round trip. Returns the head's row, or None (and ``then`` did not run).

        A ``then`` statement reads the id as ``SELECT head.id, … FROM head``::

            row = await db.write_then("UPDATE alerts SET … WHERE id = ? AND state = ? RETURNING *", (…),
                                      [("INSERT INTO alert_history (alert_id, event) "
                                        "SELECT head.id, ? FROM head", ("escalated",))])
        """

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))


def _convert_pg_error(exc: psycopg.Error) -> DatabaseError:
    if isinstance(exc, psycopg.errors.IntegrityError):
        return IntegrityError(str(exc).strip())
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable(f"PostgreSQL is unavailable: {str(exc).strip()}")
    return DatabaseError(str(exc).strip())


class _PostgresConnection(Database):
    backend = "postgresql"

    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            cur = await self._conn.execute(_to_psycopg(sql), params)
        except psycopg.Error as exc:
            raise _convert_pg_error(exc) from exc
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            async with self._conn.cursor() as cur:
                await cur.executemany(_to_psycopg(sql), list(rows))
        except psycopg.Error as exc:
            raise _convert_pg_error(exc) from exc

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            cur = await self._conn.execute(_to_psycopg(sql), params)
            return list(await cur.fetchall())
        except psycopg.Error as exc:
            raise _convert_pg_error(exc) from exc

    async def script(self, sql: str) -> None:
        try:
            await self._conn.execute(sql.encode())  # bytes: no placeholder parsing, several statements
        except psycopg.Error as exc:
            raise _convert_pg_error(exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        try:
            async with self._conn.transaction():
                yield self
        except psycopg.Error as exc:
            raise _convert_pg_error(exc) from exc

    async def write_then(self, head: str, params: Params, then: Sequence[tuple[str, Params]] = ()) -> Row | None:
        # One statement: data-modifying CTEs see the head's RETURNING rows, and the whole statement is
        # one transaction (autocommit), so there is no BEGIN/COMMIT to wait for.
        sql, values = _chained(head, params, then)
        return await self.fetch_one(sql, values)


class PostgresDatabase(Database):
    """A pool of psycopg connections; each call borrows one."""

    backend = "postgresql"

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[_PostgresConnection]:
        try:
            async with self.pool.connection() as conn:
                yield _PostgresConnection(conn)
        except PoolTimeout as exc:
            raise DatabaseUnavailable(f"PostgreSQL is unavailable: {exc}") from exc
        except psycopg.Error as exc:
            raise _convert_pg_error(exc) from exc

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._connection() as conn:
            return await conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self._connection() as conn, conn.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._connection() as conn:
            return await conn.fetch_all(sql, params)

    async def script(self, sql: str) -> None:
        async with self._connection() as conn:
            await conn.script(sql)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        async with self._connection() as conn, conn.transaction() as tx:
            yield tx

    async def write_then(self, head: str, params: Params, then: Sequence[tuple[str, Params]] = ()) -> Row | None:
        async with self._connection() as conn:
            return await conn.write_then(head, params, then)


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
async def open_database(
    url: DatabaseUrl, *, max_connections: int = 10, connect_timeout: float = 10.0
) -> AsyncIterator[Database]:
    """Open the database ``url`` names; close it on leaving."""
    if url.backend == "sqlite":
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
        return
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url.url,
        min_size=1,
        max_size=max_connections,
        open=False,
        kwargs={"autocommit": True, "row_factory": dict_row},
        name="streetwatch",
    )
    try:
        await pool.open(wait=True, timeout=connect_timeout)
    except PoolTimeout as exc:
        await pool.close()
        where = _safe_url(url.url)
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where} within {connect_timeout:g} s") from exc
    try:
        yield PostgresDatabase(pool)
    finally:
        await pool.close()


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    host, port, dbname = info.get("host", "localhost"), info.get("port", "5432"), info.get("dbname", "")
    return f"{host}:{port}/{dbname}"
