"""The generated ACL and password file on a real Mosquitto over TLS: each device on its own topics only."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time

import aiomqtt
import pytest

from tests.broker.conftest import Install, add_gauge

pytestmark = pytest.mark.services


async def _collect_until(client: aiomqtt.Client, marker: bytes, timeout_s: float = 5.0) -> list[tuple[str, bytes]]:
    """Messages received up to and including the one whose payload is ``marker``."""
    seen: list[tuple[str, bytes]] = []

    async def read() -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            seen.append((message.topic.value, payload))
            if payload == marker:
                return

    await asyncio.wait_for(read(), timeout_s)
    return seen


async def test_a_device_cannot_publish_as_another_device_nor_alerts(install: Install) -> None:
    async with install.client("~gateway") as gateway, install.client("~operator") as operator:
        await gateway.subscribe("$share/gw/streetwatch/devices/+/telemetry", qos=1)
        await gateway.subscribe("streetwatch/devices/+/status", qos=1)
        await operator.subscribe("streetwatch/alerts/#", qos=1)
        async with install.client("CG-A") as device_a:
            await device_a.publish("streetwatch/devices/CG-B/telemetry", b'{"forged": 1}', qos=1)
            await device_a.publish("streetwatch/devices/CG-B/status", b"offline", qos=1)
            await device_a.publish("streetwatch/alerts/red/CG-B", b'{"forged": 1}', qos=1)
            await device_a.publish("streetwatch/devices/CG-A/telemetry", b"marker", qos=1)
            received = await _collect_until(gateway, b"marker")
        assert received == [("streetwatch/devices/CG-A/telemetry", b"marker")]
        # The gateway's own alert reaches the operator, and is the first thing it sees.
        await gateway.publish("streetwatch/alerts/red/CG-A", b"alert-marker", qos=1)
        assert await _collect_until(operator, b"alert-marker") == [("streetwatch/alerts/red/CG-A", b"alert-marker")]


async def test_a_device_cannot_read_another_devices_commands(install: Install) -> None:
    async with install.client("CG-A") as device_a, install.client("~gateway") as gateway:
        # Mosquitto 2.0 grants the SUBACK and checks "read" on every message it would deliver.
        await device_a.subscribe("streetwatch/devices/CG-B/cmd", qos=1)
        await device_a.subscribe("streetwatch/devices/+/cmd", qos=1)
        await device_a.subscribe("streetwatch/devices/CG-A/cmd", qos=1)
        await gateway.publish("streetwatch/devices/CG-B/cmd", b'{"id": "1"}', qos=1)
        await gateway.publish("streetwatch/devices/CG-A/cmd", b"marker", qos=1)
        assert await _collect_until(device_a, b"marker") == [("streetwatch/devices/CG-A/cmd", b"marker")]


async def test_the_operator_account_only_reads_alerts(install: Install) -> None:
    async with install.client("CG-A") as device_a, install.client("~operator") as operator, \
            install.client("~gateway") as gateway:
        await operator.subscribe("streetwatch/devices/#", qos=1)
        await operator.subscribe("streetwatch/alerts/#", qos=1)
        await device_a.subscribe("streetwatch/devices/CG-A/cmd", qos=1)
        await operator.publish("streetwatch/devices/CG-A/cmd", b'{"forged": 1}', qos=1)
        await operator.publish("streetwatch/alerts/red/CG-A", b'{"forged": 1}', qos=1)
        await device_a.publish("streetwatch/devices/CG-A/telemetry", b"{}", qos=1)
        await gateway.publish("streetwatch/devices/CG-A/cmd", b"marker", qos=1)
        assert await _collect_until(device_a, b"marker") == [("streetwatch/devices/CG-A/cmd", b"marker")]
        await gateway.publish("streetwatch/alerts/red/CG-A", b"alert-marker", qos=1)
        assert await _collect_until(operator, b"alert-marker") == [("streetwatch/alerts/red/CG-A", b"alert-marker")]


@pytest.mark.parametrize("how", ["anonymous", "wrong password", "plaintext"])
async def test_who_cannot_connect(install: Install, how: str) -> None:
    with pytest.raises(aiomqtt.MqttError):
        if how == "anonymous":
            async with install.client(None):
                pass
        elif how == "wrong password":
            async with install.client("CG-A", "not-the-password"):
                pass
        else:
            async with install.client("CG-A", tls=False):
                pass


async def test_a_revoked_or_retired_device_cannot_connect_after_the_reload(install: Install) -> None:
    add_gauge(install.cli, "CG-C")
    install.issue("CG-C")
    async with install.client("CG-B"), install.client("CG-A"):
        pass
    with pytest.raises(aiomqtt.MqttError):  # not in the broker's password file until the reload
        async with install.client("CG-C"):
            pass
    install.reload()
    async with install.client("CG-C"):
        pass
    assert install.cli("device", "credentials", "revoke", "CG-B")[0] == 0
    assert install.cli("device", "retire", "CG-A")[0] == 0
    install.reload()
    for device_id in ("CG-A", "CG-B"):
        with pytest.raises(aiomqtt.MqttError):
            async with install.client(device_id):
                pass
    async with install.client("CG-C"):
        pass
    passwords = (install.broker.out / "passwords").read_text()
    assert [line.split(":")[0] for line in passwords.splitlines()] == ["CG-C", "~gateway", "~operator"]
    assert stat.S_IMODE((install.broker.out / "passwords").stat().st_mode) == 0o600


async def test_a_rotated_password_replaces_the_old_one(install: Install) -> None:
    old = install.passwords["CG-A"]
    new = install.issue("CG-A", "--rotate")
    install.reload()
    async with install.client("CG-A", new):
        pass
    with pytest.raises(aiomqtt.MqttError):
        async with install.client("CG-A", old):
            pass


async def test_a_password_given_at_registration_works_too(install: Install) -> None:
    code, _, err = install.cli("device", "add", "CG-R", "--kind", "culvert_gauge", "--profile",
                               "sw-culvert-gauge-mqtt", "--transport", "mqtt", "--password", "given-at-add",
                               "--lat", "23.1", "--lon", "113.3")
    assert code == 0, err
    install.reload()
    async with install.client("CG-R", "given-at-add") as device:
        await device.publish("streetwatch/devices/CG-R/telemetry", b"{}", qos=1)
    line = next(x for x in (install.broker.out / "passwords").read_text().splitlines() if x.startswith("CG-R:"))
    assert "given-at-add" not in line and line.startswith("CG-R:$7$")


async def test_follow_regenerates_and_reloads_when_the_registry_changes(install: Install) -> None:
    env = {**os.environ, "STREETWATCH_DATA_DIR": str(install.root / "data")}
    follower = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "broker", "config", "--out", str(install.broker.out), "--port",
        str(install.broker.port), "--reload", str(install.broker.pidfile), "--follow", "1",
        env=env, cwd=install.root, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60  # two CLI starts; one took 30 s at load average 21
        while install.broker.log.count("Reloading config.") < 1:
            assert time.monotonic() < deadline, "the follower did not reload the broker"
            await asyncio.sleep(0.1)
        add_gauge(install.cli, "CG-F")
        install.issue("CG-F")
        while install.broker.log.count("Reloading config.") < 2:
            assert time.monotonic() < deadline, "the follower did not notice the new device"
            await asyncio.sleep(0.1)
        async with install.client("CG-F"):
            pass
        settled = install.broker.log.count("Reloading config.")
        await asyncio.sleep(2.5)  # nothing changes now: no regeneration, no reload
        assert install.broker.log.count("Reloading config.") == settled
    finally:
        follower.terminate()
        out, _ = await asyncio.wait_for(follower.communicate(), 10)
    assert out.decode().count("reloaded the broker") == settled
