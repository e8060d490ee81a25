"""The street side of the console's tests: a real gateway (``streetwatch run``: MQTT intake, rules engine,
command dispatcher) on the test Mosquitto, and simulated lamp controllers that answer its commands over MQTT."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.servers import free_port
from device_drivers.mqtt import encode_telemetry
from rules.loader import SHIPPED_RULES_DIR
from simulators.mqtt_fleet import MqttFleet
from simulators.mqtt_lamp import MqttLamp
from streetwatch import topics
from streetwatch.mqtt import MqttTransport
from tests.gateway.conftest import forget_session, publisher
from tests.web.console.city import in_thread, running

LAMP_INTERVAL_S = 2.0


def rules_without_hold(folder: Path) -> Path:
    """The shipped culvert rules with no ``for`` hold: an alert is raised by the very reading that crosses a level
    (the shipped 30 s hold is measured on the gateway's clock, and would hide the path's own latency)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SHIPPED_RULES_DIR / "culverts.yaml").read_text()
    assert "for: 30s" in text
    (folder / "culverts.yaml").write_text(text.replace("for: 30s", "for: 0s"))
    return folder


@contextmanager
def gateway(database_url: str, mqtt_url: str, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``streetwatch run --no-modbus`` as a subprocess until its health says the broker is connected."""
    api_port, client_id = free_port(), f"gw-{uuid.uuid4().hex[:8]}"
    rules = rules_without_hold(folder / "rules")
    env = {**os.environ, "STREETWATCH_DATABASE_URL": database_url, "STREETWATCH_MQTT_URL": mqtt_url,
           "STREETWATCH_DATA_DIR": str(folder / "data"), "STREETWATCH_MQTT__CLIENT_ID": client_id,
           "STREETWATCH_MQTT__SESSION_EXPIRY_S": "5", "STREETWATCH_RULES_DIR": str(rules),
           "STREETWATCH_GATEWAY__METRICS_PORT": str(free_port()), "STREETWATCH_GATEWAY__API_PORT": str(api_port),
           "STREETWATCH_LOG_LEVEL": "WARNING"}

    def connected() -> bool:
        answer = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=2)
        return answer.status_code == 200 and bool(answer.json()["broker"] == "connected")

    try:
        with running([sys.executable, "-m", "gateway", "run", "--no-modbus"], env, folder / "gateway.log", connected,
                     "the gateway") as process:
            yield process
    finally:
        in_thread(lambda: forget_session(mqtt_url, client_id))


@contextmanager
def lamps(mqtt_url: str, device_ids: Sequence[str]) -> Iterator[dict[str, MqttLamp]]:
    """Simulated lamp controllers on MQTT (simulators' MqttFleet), in a thread with its own event loop:
    Playwright's synchronous API keeps one running in the test's thread."""
    devices = {device_id: MqttLamp(device_id, now=datetime.now(UTC), interval_s=LAMP_INTERVAL_S)
               for device_id in device_ids}
    ready, failed = threading.Event(), []
    stop: list[asyncio.Event] = []
    loop: list[asyncio.AbstractEventLoop] = []

    async def run() -> None:
        stop.append(asyncio.Event())
        loop.append(asyncio.get_running_loop())
        async with MqttFleet(list(devices.values()), MqttTransport.from_url(mqtt_url),
                             client_prefix=f"lamps-{uuid.uuid4().hex[:6]}", devices_per_client=50):
            ready.set()
            await stop[0].wait()

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # reported to the test's thread below
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=main, name="mqtt-lamps", daemon=True)
    thread.start()
    if not ready.wait(30) or failed:
        raise RuntimeError(f"the simulated lamps did not connect: {failed}")
    try:
        yield devices
    finally:
        loop[0].call_soon_threadsafe(stop[0].set)
        thread.join(15)


def publish_level(mqtt_url: str, device_id: str, water_level_mm: float) -> float:
    """Publish one gauge reading at QoS 1, stamped now, as a gauge does; the time (``time.time()``, which the page's
    ``performance.timeOrigin + performance.now()`` can be compared with) just before the publish began."""
    async def go() -> float:
        async with publisher(mqtt_url) as client:
            payload = encode_telemetry({"water_level_mm": water_level_mm, "battery_v": 3.9}, datetime.now(UTC))
            sent = time.time()
            await client.publish(topics.telemetry(device_id), payload, qos=1)
            return sent

    return in_thread(go)
