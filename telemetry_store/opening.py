"""Open the store a ``database_url`` names, schema migrated, as an async context manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from psycopg_pool import AsyncConnectionPool, PoolTimeout

from streetwatch import migrations
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.database import Database, DatabaseError, DatabaseUnavailable, open_database
from streetwatch.figures import show
from telemetry_store.contract import TelemetryStore
from telemetry_store.errors import StoreError, StoreUnavailable
from telemetry_store.schema import MIGRATIONS
from telemetry_store.sqlite import SqliteStore
from telemetry_store.timescale import TimescaleStore, prepare_connection


@asynccontextmanager
async def open_store(
    url: DatabaseUrl, settings: StoreSettings | None = None, *, max_connections: int = 4,
    connect_timeout_s: float = 10.0,
) -> AsyncIterator[TelemetryStore]:
    """The store for ``url``, its migrations applied; closed on leaving.

    >>> async with open_store(DatabaseUrl.parse("sqlite:///sw.db"), StoreSettings()) as store:  # doctest: +SKIP
    ...     await store.write([Reading("lamp-1", "power_w", datetime.now(UTC), 41.5)])
    """
    settings = settings or StoreSettings()
    if url.backend == "sqlite":
        async with AsyncExitStack() as stack:
            db = await _migrated(stack, url, connect_timeout_s)
            store = SqliteStore(db, settings)
            await store.start()
            yield store
        return
    async with AsyncExitStack() as stack:
        await _migrated(stack, url, connect_timeout_s)
    async with _pool(url, max_connections, connect_timeout_s) as pool:
        timescale = TimescaleStore(pool, settings, connect_timeout_s)
        await timescale.start()
        yield timescale


async def _migrated(stack: AsyncExitStack, url: DatabaseUrl, timeout_s: float) -> Database:
    try:
        db = await stack.enter_async_context(open_database(url, connect_timeout=timeout_s))
        await migrations.migrate(db, MIGRATIONS)
    except DatabaseUnavailable as exc:
        raise StoreUnavailable(str(exc)) from exc
    except DatabaseError as exc:
        raise StoreError(f"cannot prepare the store's schema: {exc}") from exc
    return db


@asynccontextmanager
async def _pool(url: DatabaseUrl, max_connections: int, timeout_s: float) -> AsyncIterator[AsyncConnectionPool[Any]]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url.url, min_size=1, max_size=max_connections, open=False, name="telemetry_store",
        kwargs={"autocommit": True}, configure=prepare_connection,
        check=AsyncConnectionPool.check_connection,  # a server restart leaves dead connections behind
    )
    try:
        await pool.open(wait=True, timeout=timeout_s)
    except PoolTimeout as exc:
        await pool.close()
        raise StoreUnavailable(f"couldn't connect to PostgreSQL within {show(timeout_s)} s") from exc
    try:
        yield pool
    finally:
        await pool.close()
