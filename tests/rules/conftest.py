"""Fixtures the rules' tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rules.alert_store import AlertStore
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[AlertStore]:
    """An alert store on a fresh database (SQLite, then TimescaleDB: ``database_url``)."""
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        store = AlertStore(db)
        await store.migrate()
        yield store
