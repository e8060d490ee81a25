"""PostgreSQL behind :class:`~streetwatch.database.base.Database`: a psycopg pool, ``?`` placeholders
rewritten to ``%s``, psycopg's errors converted where they enter."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from streetwatch.config import DatabaseUrl
from streetwatch.database.base import Database, DatabaseError, DatabaseUnavailable, IntegrityError, Params, Row
from streetwatch.figures import show


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


def _convert_pg_error(exc: psycopg.Error) -> DatabaseError:
    if isinstance(exc, psycopg.errors.IntegrityError):
        return IntegrityError(str(exc).strip())
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.ProgramLimitExceeded):
        return DatabaseUnavailable(f"PostgreSQL is unavailable: {str(exc).strip()}")
    # ProgramLimitExceeded (an index row too large, …) is psycopg's OperationalError too, but it is
    # the data's fault: retrying the same rows would fail forever.
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


async def _why_not(conninfo: str) -> str:
    """``: Connection refused (…)`` — the reason one direct attempt gives (the pool only says it timed out)."""
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=2)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = first.rsplit(" failed: ", 1)[-1]
        hint = " (is the server running, and is the address right?)" if "refused" in reason.lower() else ""
        return f": {reason}{hint}"
    await conn.close()
    return ""


@asynccontextmanager
async def open_postgres(url: DatabaseUrl, *, max_connections: int, connect_timeout: float) -> AsyncIterator[Database]:
    """A pool on the PostgreSQL database ``url`` names; closed on leaving."""
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
        reason = await _why_not(url.url)
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where} within {show(connect_timeout)} s{reason}") \
            from exc
    try:
        yield PostgresDatabase(pool)
    finally:
        await pool.close()


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    host, port, dbname = info.get("host", "localhost"), info.get("port", "5432"), info.get("dbname", "")
    return f"{host}:{port}/{dbname}"
