"""The database facade and migrations behave the same on SQLite and TimescaleDB."""

from __future__ import annotations

import pytest

from streetwatch.config import DatabaseUrl
from streetwatch.database import DatabaseUnavailable, IntegrityError, open_database
from streetwatch.migrations import Migration, migrate, status

DDL = "CREATE TABLE thing (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, note TEXT);\n" \
      "CREATE INDEX thing_note ON thing (note);"
MIGRATIONS = [
    Migration("test", 1, "things", postgresql=DDL, sqlite=DDL),
    Migration("test", 2, "a column", postgresql="ALTER TABLE thing ADD COLUMN size INTEGER",
              sqlite="ALTER TABLE thing ADD COLUMN size INTEGER"),
]


async def test_migrations_apply_once_in_order(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        before = await status(db, MIGRATIONS)
        assert [s.applied for s in before] == [False, False]
        applied = await migrate(db, MIGRATIONS)
        assert [m.version for m in applied] == [1, 2]
        assert await migrate(db, MIGRATIONS) == []
        after = await status(db, MIGRATIONS)
        assert all(s.applied for s in after)
        await db.execute("INSERT INTO thing (id, name, size) VALUES (?, ?, ?)", (1, "lamp 100%", 3))
        assert await db.fetch_value("SELECT name FROM thing WHERE size = ?", (3,)) == "lamp 100%"


async def test_transaction_rolls_back_and_integrity_error_is_ours(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrate(db, MIGRATIONS[:1])
        await db.execute("INSERT INTO thing (id, name) VALUES (?, ?)", (1, "a"))
        with pytest.raises(IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO thing (id, name) VALUES (?, ?)", (2, "b"))
                await tx.execute("INSERT INTO thing (id, name) VALUES (?, ?)", (3, "a"))
        rows = await db.fetch_all("SELECT id, name FROM thing ORDER BY id")
        assert [dict(r) for r in rows] == [{"id": 1, "name": "a"}]
        await db.executemany("INSERT INTO thing (id, name) VALUES (?, ?)", [(5, "e"), (6, "f")])
        assert await db.fetch_value("SELECT count(*) AS n FROM thing") == 3


async def test_unreachable_postgres_is_a_clear_error() -> None:
    from tests.fixtures.services import free_port

    url = DatabaseUrl.parse(f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1")
    with pytest.raises(DatabaseUnavailable, match=r"cannot connect to PostgreSQL at 127.0.0.1:\d+/none"):
        async with open_database(url, connect_timeout=1.0):
            pass
