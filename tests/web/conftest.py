"""A live API per test module, on SQLite and on TimescaleDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.servers import PostgresServer
from tests.conftest import _database_name
from tests.web.world import World, world_on


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('api') / 'streetwatch.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(_database_name(request) + "_api")


@pytest.fixture(scope="module")
def world(module_db_url: str) -> Iterator[World]:
    with world_on(module_db_url, requests_per_minute=100_000, approval_threshold=500) as opened:
        yield opened
