"""The database facade and migrations behave the same on SQLite and TimescaleDB."""

from __future__ import annotations

import pytest

from streetwatch.config import DatabaseUrl
from streetwatch.database import DatabaseError, DatabaseUnavailable, IntegrityError, open_database
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
    from benchmarks.servers import free_port

    url = DatabaseUrl.parse(f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1")
    with pytest.raises(DatabaseUnavailable, match=r"cannot connect to PostgreSQL at 127.0.0.1:\d+/none"):
        async with open_database(url, connect_timeout=1.0):
            pass


CHAIN_DDL = ("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size REAL);\n"
             "CREATE TABLE child (seq {serial}, parent_id INTEGER NOT NULL REFERENCES parent (id), "
             "event TEXT NOT NULL, size REAL);")
CHAIN = Migration("test", 1, "parent and children",
                  postgresql=CHAIN_DDL.format(serial="BIGSERIAL PRIMARY KEY"),
                  sqlite=CHAIN_DDL.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
CHILD = "INSERT INTO child (parent_id, event, size) SELECT head.id, ?, ? FROM head"


async def test_write_then_writes_the_followers_in_order_only_when_the_head_returns_a_row(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrate(db, [CHAIN])
        insert = "INSERT INTO parent (id, name, size) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING *"
        row = await db.write_then(insert, (7, "a", 1.5), [(CHILD, (f"e{i}", None if i % 2 else i)) for i in range(5)])
        assert row is not None and dict(row) == {"id": 7, "name": "a", "size": 1.5}
        children = await db.fetch_all("SELECT parent_id, event, size FROM child ORDER BY seq")
        assert [(c["parent_id"], c["event"], c["size"]) for c in children] == [
            (7, "e0", 0), (7, "e1", None), (7, "e2", 2), (7, "e3", None), (7, "e4", 4)]
        # a head that changes nothing (a conflict, a guard): no followers
        assert await db.write_then(insert, (8, "a", 2.0), [(CHILD, ("never", None))]) is None
        assert await db.write_then("UPDATE parent SET size = ? WHERE id = ? AND size = ? RETURNING *", (3.0, 7, 9.9),
                                   [(CHILD, ("never", None))]) is None
        assert await db.fetch_value("SELECT count(*) AS n FROM child WHERE event = ?", ("never",)) == 0
        # a follower that fails undoes the head too
        with pytest.raises(DatabaseError):
            await db.write_then("UPDATE parent SET size = ? WHERE id = ? RETURNING *", (4.0, 7),
                                [(CHILD, ("ok", None)), ("INSERT INTO child (parent_id, event) SELECT 999, ? FROM head",
                                                         ("orphan",))])
        assert await db.fetch_value("SELECT size FROM parent WHERE id = ?", (7,)) == 1.5
        assert await db.fetch_value("SELECT count(*) AS n FROM child") == 5
        # inside a transaction it is part of that transaction
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                assert await tx.write_then(insert, (9, "b", 1.0), [(CHILD, ("in tx", 1.0))]) is not None
                raise RuntimeError("roll back")
        assert await db.fetch_value("SELECT count(*) AS n FROM parent") == 1
        async with db.transaction() as tx:
            assert await tx.write_then(insert, (9, "b", 1.0), [(CHILD, ("in tx", 1.0))]) is not None
        assert await db.fetch_value("SELECT parent_id FROM child WHERE event = ?", ("in tx",)) == 9
