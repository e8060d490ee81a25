"""The interface both databases implement, and the errors every caller may catch."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal

Row = Mapping[str, Any]
Params = Sequence[Any]


class DatabaseError(Exception):
    """A database operation failed."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (refused, down, timed out)."""


class IntegrityError(DatabaseError):
    """A uniqueness or foreign-key rule refused the change."""


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

    async def write_then_many(self, writes: Sequence[tuple[str, Params, Sequence[tuple[str, Params]]]]
                              ) -> list[Row | None]:
        """:meth:`write_then` for each ``(head, params, then)`` in order, in this database's transaction:
        what each returned. SQLite runs them all in one hop to its thread (a busy event loop made each
        hop cost milliseconds)."""
        return [await self.write_then(head, params, then) for head, params, then in writes]

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))
