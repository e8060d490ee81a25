"""The harness itself: real TimescaleDB and a real Mosquitto answer."""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt
import psycopg
import pytest

from benchmarks.servers import PostgresServer


@pytest.mark.services
async def test_timescaledb_hypertable_and_time_bucket(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute("CREATE TABLE m (ts timestamptz NOT NULL, v double precision)")
        await conn.execute("SELECT create_hypertable('m', 'ts')")
        await conn.execute(
            "INSERT INTO m SELECT t, extract(minute FROM t) FROM generate_series("
            "'2026-01-01 00:00+00'::timestamptz, '2026-01-01 00:59+00', interval '1 minute') t"
        )
        cur = await conn.execute(
            "SELECT time_bucket('15 minutes', ts) AS b, count(*), avg(v) FROM m GROUP BY b ORDER BY b"
        )
        rows = await cur.fetchall()
        license_row = await (await conn.execute("SHOW timescaledb.license")).fetchone()
    assert [(r[1], r[2]) for r in rows] == [(15, 7.0), (15, 22.0), (15, 37.0), (15, 52.0)]
    assert license_row is not None and license_row[0] in ("apache", "timescale")


@pytest.mark.services
def test_postgres_is_our_own_cluster(postgres_server: PostgresServer) -> None:
    assert postgres_server.port != 5432
    assert postgres_server.psql("SHOW shared_preload_libraries") == "timescaledb"
    assert postgres_server.psql("SHOW data_directory") == str(postgres_server.data_dir)


@pytest.mark.services
async def test_mosquitto_publish_subscribe_round_trip(mosquitto_server) -> None:  # type: ignore[no-untyped-def]
    topic = f"streetwatch/test/{uuid.uuid4().hex}"
    port = mosquitto_server.port
    assert port != 1883
    async with aiomqtt.Client("127.0.0.1", port, identifier="sub") as sub:
        await sub.subscribe(topic, qos=1)
        async with aiomqtt.Client("127.0.0.1", port, identifier="pub") as pub:
            await pub.publish(topic, b'{"water_level_mm": 412}', qos=1)

        async def first() -> aiomqtt.Message:
            async for message in sub.messages:
                return message
            raise AssertionError("no message")

        message = await asyncio.wait_for(first(), timeout=5)
    assert message.topic.value == topic
    assert message.payload == b'{"water_level_mm": 412}'
