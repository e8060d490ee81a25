"""The whole path live: a gauge's reading over MQTT → ``streetwatch run`` (intake, rules) → the database →
``streetwatch serve`` → an operator's Server-Sent Events stream; and the gauge's power cut (its last will)
reaching the same stream as an offline event.

Everything is real: Mosquitto, PostgreSQL+TimescaleDB, the gateway and the API as their own processes, the
shipped culvert rules (red above 800 mm, held 30 s by the readings' own times).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from benchmarks.servers import free_port
from device_drivers.mqtt import encode_telemetry
from device_registry import Device
from people import People
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.gateway.conftest import eventually, http_get, publisher, register
from tests.web.console.city import serve
from tests.web.test_events import Event, _events

pytestmark = pytest.mark.services
PASSWORD = "a long enough password"
WAIT_S = 60.0  # a loaded machine: the rule holds 30 s of reading time, then the store, the hub


async def _seed(database_url: str, gauge: str) -> str:
    """Areas, the gauge in the street ``jingtai``, and a viewer of the district's token."""
    now = datetime.now(UTC)
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        people = People(db)
        await people.migrate()
        await people.areas.add("baiyun", "Baiyun", parent="root", level="district")
        await people.areas.add("jingtai", "Jingtai", parent="baiyun", level="street")
        await people.users.add("wang.fang", PASSWORD, now=now)
        await people.grants.grant("wang.fang", "viewer", "baiyun", by="test", now=now)
        token = await people.issue_token("wang.fang", "viewer", "baiyun", lifetime=timedelta(days=1), now=now)
    await register(database_url, [Device.model_validate({
        "id": gauge, "kind": "culvert_gauge", "profile": "sw-culvert-gauge-mqtt", "address": {"transport": "mqtt"},
        "location": {"latitude": 23.13, "longitude": 113.26}, "area": "jingtai", "status": "active"})])
    return token.secret


@contextmanager
def gateway(database_url: str, mqtt_url: str, tmp_path: Path) -> Iterator[int]:
    """``streetwatch run --no-modbus`` as its own process; its HTTP port while it runs."""
    api_port = free_port()
    env = {**os.environ, "STREETWATCH_DATABASE_URL": database_url, "STREETWATCH_MQTT_URL": mqtt_url,
           "STREETWATCH_DATA_DIR": str(tmp_path / "data"), "STREETWATCH_MQTT__CLIENT_ID": f"gw-{uuid.uuid4().hex[:8]}",
           "STREETWATCH_MQTT__SESSION_EXPIRY_S": "5", "STREETWATCH_GATEWAY__METRICS_PORT": str(free_port()),
           "STREETWATCH_GATEWAY__API_PORT": str(api_port)}
    with (tmp_path / "gateway.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--no-modbus"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        yield api_port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _broker_connected(api_port: int) -> bool:
    try:
        status, body = await http_get(f"http://127.0.0.1:{api_port}/health")
    except OSError:
        return False
    return status == 200 and json.loads(body)["broker"] == "connected"


def _listen(url: str, token: str, into: Queue[Event], ready: threading.Event, stop: threading.Event) -> None:
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client, \
                client.stream("GET", "/api/v1/events") as response:
            assert response.status_code == 200
            ready.set()
            for event in _events(response):
                into.put(event)
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the server going away at the end of the test is expected
            raise


def _wait_for(queue: Queue[Event], wanted: str, match: dict[str, object], seen: list[Event]) -> Event:
    deadline = datetime.now(UTC) + timedelta(seconds=WAIT_S)
    while datetime.now(UTC) < deadline:
        try:
            event = queue.get(timeout=1)
        except Empty:
            continue
        seen.append(event)
        if event[1] == wanted and all(event[2].get(k) == v for k, v in match.items()):
            return event
    raise AssertionError(f"no {wanted} event {match} within {WAIT_S} s; saw {seen}")


async def _publish_flood_level(mqtt_url: str, gauge: str) -> None:
    """'online', then 905 mm three times over 40 s (by the readings' times): past red (800 mm) for over 30 s."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with publisher(mqtt_url) as client:
        await client.publish(topics.status(gauge), b"online", qos=1, retain=True)
        for seconds_ago in (40, 20, 0):
            await client.publish(topics.telemetry(gauge), encode_telemetry(
                {"water_level_mm": 905.0, "battery_v": 3.6}, now - timedelta(seconds=seconds_ago)), qos=1)


def test_a_reading_through_the_gateway_raises_an_alert_on_the_stream_and_a_power_cut_goes_offline(
        fresh_pg_url: str, mqtt_url: str, tmp_path: Path) -> None:
    gauge = f"CG-LIVE-{uuid.uuid4().hex[:6]}"
    token = asyncio.run(_seed(fresh_pg_url, gauge))
    host, port = "127.0.0.1", mqtt_url.rsplit(":", 1)[1]
    with gateway(fresh_pg_url, mqtt_url, tmp_path) as api_port, \
            serve(fresh_pg_url, str(tmp_path / "serve.log")) as url:
        asyncio.run(eventually(lambda: _broker_connected(api_port), timeout_s=30, what="the gateway connected"))
        queue: Queue[Event] = Queue()
        ready, stop = threading.Event(), threading.Event()
        listener = threading.Thread(target=_listen, args=(url, token, queue, ready, stop), daemon=True)
        listener.start()
        assert ready.wait(20)
        seen: list[Event] = []

        # The gauge's own connection, whose last will says it is offline: what an MQTT device leaves with the
        # broker so that a power cut is announced.
        device = subprocess.Popen(["mosquitto_sub", "-h", host, "-p", port, "-i", f"dev-{gauge}", "-t", "nothing",
                                   "--will-topic", topics.status(gauge), "--will-payload", "offline",
                                   "--will-qos", "1", "--will-retain"], stdout=subprocess.DEVNULL)
        try:
            asyncio.run(_publish_flood_level(mqtt_url, gauge))
            online = _wait_for(queue, "device", {"device": gauge, "state": "online"}, seen)
            alert = _wait_for(queue, "alert", {"device": gauge, "severity": "red"}, seen)
            assert alert[2]["event"] == "raised" and alert[2]["rule"] == "culvert-water-level"
            assert alert[2]["value"] == 905.0 and alert[0] and online[0]

            device.send_signal(signal.SIGKILL)  # the power cut: no DISCONNECT, so the broker publishes the will
            device.wait(10)
            offline = _wait_for(queue, "device", {"device": gauge, "state": "offline"}, seen)
            assert offline[2]["area"] == "jingtai" and offline[2]["source"] == "mqtt-status"
        finally:
            if device.poll() is None:
                device.kill()
                device.wait()
            stop.set()
