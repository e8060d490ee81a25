"""A reading that was accepted is never lost: through a 20 s PostgreSQL outage under load, and through a
SIGKILL of ``streetwatch run`` under MQTT QoS 1 load. Each time every reading is in the store exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.servers import PostgresServer, free_port
from device_drivers.mqtt import encode_telemetry
from gateway.composition.runtime import Gateway, RunOptions, running
from streetwatch import topics
from tests.gateway.conftest import (
    eventually,
    forget_session,
    gateway_settings,
    http_get,
    mqtt_device,
    publisher,
    register,
)

pytestmark = pytest.mark.services
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)  # within retention: maintenance runs
METRICS_PER_MESSAGE = 3


def gauge_message(index: int) -> bytes:
    """Message ``index`` of a gauge: a distinct time each, so every reading is a distinct row."""
    return encode_telemetry({"water_level_mm": index % 997, "battery_v": 3.7, "signal_quality_pct": 80},
                            T0 + timedelta(seconds=index))


def stored(server: PostgresServer, database: str) -> tuple[int, int]:
    """(rows, distinct (device, metric, ts)) in the readings hypertable."""
    total, distinct = server.psql(
        "SELECT count(*), count(DISTINCT (device_key, metric_key, ts)) FROM readings", dbname=database).split("|")
    return int(total), int(distinct)


async def publish_steadily(mqtt_url: str, devices: list[str], per_device: int, rate_msg_s: float) -> int:
    """QoS 1, each publish acknowledged by the broker; ``per_device`` messages per device at ``rate_msg_s``."""
    sent = 0
    async with publisher(mqtt_url) as client:
        started = time.monotonic()
        for index in range(per_device):
            await asyncio.gather(*(client.publish(topics.telemetry(device), gauge_message(index), qos=1)
                                   for device in devices))
            sent += len(devices)
            ahead_s = started + sent / rate_msg_s - time.monotonic()
            if ahead_s > 0:
                await asyncio.sleep(ahead_s)  # the load's pace, not a wait for a condition
    return sent


async def test_postgresql_stopped_for_20_s_under_load_loses_nothing(
        postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str, tmp_path: Path) -> None:
    devices = [f"CG-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    await register(fresh_pg_url, [mqtt_device(d) for d in devices])
    settings = gateway_settings(tmp_path, fresh_pg_url, mqtt_url)
    database = fresh_pg_url.rsplit("/", 1)[1]
    async with running(Gateway(settings, options=RunOptions(modbus=False, maintenance=False))) as gateway:
        assert gateway.ingest is not None and gateway.pipeline is not None and gateway.journal is not None
        ingest, pipeline, journal = gateway.ingest, gateway.pipeline, gateway.journal
        await eventually(lambda: ingest.connected, what="MQTT session")
        load = asyncio.create_task(publish_steadily(mqtt_url, devices, per_device=130, rate_msg_s=100.0))
        await eventually(lambda: pipeline.stored_readings > 500, what="readings flowing")
        await asyncio.to_thread(postgres_server.stop)
        try:
            await eventually(lambda: pipeline.outage, what="the outage noticed")
            await asyncio.sleep(20)  # the outage, under load
            spooled_bytes, backlog = journal.size_bytes(), journal.backlog
        finally:
            await asyncio.to_thread(postgres_server.start)
        sent = await load
        expected = sent * METRICS_PER_MESSAGE
        await eventually(lambda: pipeline.stored_readings >= expected and journal.backlog == 0, timeout_s=60,
                         what="the spool replayed")
        assert not pipeline.outage and not pipeline.catching_up
    assert sent == 20 * 130
    assert backlog > 1_000 and spooled_bytes > 50_000  # the outage's readings were spooled, visibly
    assert stored(postgres_server, database) == (expected, expected)


async def test_sigkill_under_mqtt_load_then_restart_stores_every_reading_once(
        postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str, tmp_path: Path) -> None:
    devices = [f"CG-{uuid.uuid4().hex[:8]}" for _ in range(20)]
    await register(fresh_pg_url, [mqtt_device(d) for d in devices])
    api_port = free_port()
    client_id = f"gw-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "STREETWATCH_DATABASE_URL": fresh_pg_url, "STREETWATCH_MQTT_URL": mqtt_url,
           "STREETWATCH_DATA_DIR": str(tmp_path / "data"), "STREETWATCH_MQTT__CLIENT_ID": client_id,
           "STREETWATCH_GATEWAY__METRICS_PORT": "0", "STREETWATCH_GATEWAY__API_PORT": str(api_port),
           # Readings wait 2 s in memory before they are written: at the kill, the last 2 s are only in the journal.
           "STREETWATCH_STORE__FLUSH_INTERVAL_MS": "2000"}
    log = (tmp_path / "gateway.log").open("ab")

    async def start() -> asyncio.subprocess.Process:
        # A long group commit: at any moment many messages are received, in the journal's buffer and not
        # yet acknowledged. Acknowledged too early, they would be lost with the process.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "run", "--no-modbus", "--journal-commit-ms", "500", env=env,
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)

        async def healthy() -> bool:
            try:
                return (await http_get(f"http://127.0.0.1:{api_port}/health"))[0] == 200
            except OSError:
                return False

        await eventually(healthy, timeout_s=30, what="the gateway serving")
        return proc

    database = fresh_pg_url.rsplit("/", 1)[1]
    gateway = await start()
    try:
        load = asyncio.create_task(publish_steadily(mqtt_url, devices, per_device=150, rate_msg_s=600.0))
        await eventually(lambda: stored(postgres_server, database)[0] > 0, what="readings flowing")
        await asyncio.sleep(1.0)
        gateway.send_signal(signal.SIGKILL)  # mid-stream: no flush, no goodbye
        await gateway.wait()
        await asyncio.sleep(0.5)  # the load goes on meanwhile: the broker keeps it for the session
        gateway = await start()
        sent = await load
        expected = sent * METRICS_PER_MESSAGE
        await eventually(lambda: stored(postgres_server, database)[0] >= expected, timeout_s=60,
                         what="every reading stored")
        await asyncio.sleep(0.5)  # any duplicate would arrive now
        assert sent == 20 * 150
        assert stored(postgres_server, database) == (expected, expected)
    finally:
        gateway.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(gateway.wait(), 10)  # a clean stop within 10 s
        log.close()
        await forget_session(mqtt_url, client_id)
    assert code == 0  # and the clean stop is clean
    assert "stopped: every accepted reading is in the store" in (tmp_path / "gateway.log").read_text()
