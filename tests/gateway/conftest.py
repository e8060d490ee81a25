"""Helpers for the gateway tests: settings on a temp data dir, devices to register, a publisher, waiting."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from benchmarks.servers import free_port
from device_registry import Device, open_registry
from device_registry.device import DeviceStatus
from streetwatch.config import Settings

LAMP_MQTT_PROFILE = """
name = "test-lamp-mqtt"
kind = "lamp_controller"
transport = "mqtt"
[[mqtt.metrics]]
name = "power_w"
[[mqtt.metrics]]
name = "supply_voltage_v"
[[mqtt.metrics]]
name = "lamp_current_a"
[[mqtt.metrics]]
name = "dim_level_pct"
[[mqtt.metrics]]
name = "power_factor"
[[mqtt.metrics]]
name = "energy_kwh"
[[mqtt.metrics]]
name = "controller_temp_c"
[[mqtt.metrics]]
name = "relay_on"
[[mqtt.metrics]]
name = "fault_bits"
[[mqtt.metrics]]
name = "lamp_running_hours"
"""


def gateway_settings(tmp_path: Path, database_url: str, mqtt_url: str = "mqtt://127.0.0.1:1",
                     **gateway: Any) -> Settings:
    """Settings for one gateway under test: its own data dir, its own MQTT session, no HTTP unless asked."""
    options = {"metrics_port": None, "api_port": None, "poll_timeout_s": 0.3, "offline_after_failures": 3}
    options.update(gateway)
    return Settings(data_dir=tmp_path / "data", database_url=database_url, mqtt_url=mqtt_url,
                    # A short session: the broker is shared, and a finished test's session must not go on
                    # collecting every later test's messages.
                    mqtt={"client_id": f"gw-{uuid.uuid4().hex[:10]}", "session_expiry_s": 5},
                    store={"flush_interval_ms": 50, "batch_size": 2_000, "queue_size": 20_000},
                    gateway=options)


def mqtt_device(device_id: str, profile: str = "sw-culvert-gauge-mqtt", kind: str = "culvert_gauge") -> Device:
    return Device.model_validate({"id": device_id, "kind": kind, "profile": profile, "address": {"transport": "mqtt"},
                                  "location": {"latitude": 23.13, "longitude": 113.26}, "status": "active"})


def modbus_device(device_id: str, port: int, *, unit: int = 1, interval_s: float = 0.2,
                  transport: str = "modbus-tcp", profile: str = "sw-lamp-controller",
                  kind: str = "lamp_controller") -> Device:
    return Device.model_validate({
        "id": device_id, "kind": kind, "profile": profile, "poll_interval_s": interval_s,
        "address": {"transport": transport, "host": "127.0.0.1", "port": port, "unit": unit},
        "location": {"latitude": 23.13, "longitude": 113.26}, "status": DeviceStatus.active})


async def register(database_url: str, devices: Sequence[Device], *, profiles: Sequence[str] = ()) -> None:
    async with open_registry(database_url) as registry:
        for text in profiles:
            await registry.add_profile(text, "toml", source="test", by="test")
        for device in devices:
            await registry.add(device, by="test")


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], *, timeout_s: float = 15.0,
                     what: str = "the condition") -> None:
    """Wait until ``check()`` holds: the gateway works in its own tasks and over real sockets."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


def every_client_failed(mqtt: Any) -> bool:
    """The gateway's three MQTT clients (a transport's health records) have each failed to connect once."""
    return len(mqtt.clients) == 3 and all(
        not c.connected and c.reason not in (None, "not connected yet") for c in mqtt.clients)


async def http_get(url: str) -> tuple[int, str]:
    """GET from a thread: the server under test runs on this event loop."""
    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    return await asyncio.to_thread(get)


def publisher(mqtt_url: str) -> aiomqtt.Client:
    """A device-side client; ``await client.publish(topic, payload, qos=1)`` returns after the PUBACK."""
    port = int(mqtt_url.rsplit(":", 1)[1])
    return aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:10]}", max_inflight_messages=100)


async def forget_session(mqtt_url: str, client_id: str) -> None:
    """End a gateway's persistent session at the shared broker (it would collect messages until it expires)."""
    port = int(mqtt_url.rsplit(":", 1)[1])
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
                              clean_start=True):
        pass


@pytest.fixture
def http_ports() -> tuple[int, int]:
    return free_port(), free_port()
