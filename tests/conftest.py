"""Session-scoped real servers, and a fresh database per test module."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from hypothesis import settings

from benchmarks.servers import MosquittoServer, PostgresServer, ServiceMissing
from benchmarks.tls import TlsMaterial, make_tls_material

# Property tests check answers, not speed: on a loaded machine (CI shares its two cores with PostgreSQL and
# Mosquitto) hypothesis' default 200 ms per example failed a correct round trip as "deadline exceeded".
settings.register_profile("streetwatch", deadline=None)
settings.load_profile("streetwatch")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL 15 + TimescaleDB cluster on a free port."""
    try:
        server = PostgresServer()
    except ServiceMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def mosquitto_server() -> Iterator[MosquittoServer]:
    """A throwaway Mosquitto broker on a free port."""
    try:
        server = MosquittoServer()
    except ServiceMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def mqtt_url(mosquitto_server: MosquittoServer) -> str:
    return mosquitto_server.url


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A test CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def mosquitto_tls(tls_material: TlsMaterial) -> Iterator[MosquittoServer]:
    """A throwaway Mosquitto whose only listener speaks TLS (``mqtts://``), logging every connection."""
    try:
        server = MosquittoServer(tls=tls_material, connection_log=True)
    except ServiceMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.close()


def _database_name(request: pytest.FixtureRequest) -> str:
    nodeid = request.node.nodeid
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    return f"t_{digest}_" + re.sub(r"[^a-z0-9_]", "_", nodeid.lower())[-40:]


@pytest.fixture(scope="module")
def pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh database (with the timescaledb extension) for this test module."""
    return postgres_server.create_database(_database_name(request))


@pytest.fixture
def fresh_pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh database for this one test."""
    return postgres_server.create_database(_database_name(request))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each test that takes this runs twice: on the embedded SQLite store and on TimescaleDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'streetwatch.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(_database_name(request))
