"""MQTT gauges and probes on a real Mosquitto: contract-valid telemetry, retained status, last
wills, command acknowledgements."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import aiomqtt
import pytest

from benchmarks.servers import MosquittoServer
from device_drivers.mqtt import parse_ack, parse_telemetry
from device_registry.profile import shipped_profiles
from simulators.faults import FaultSpec
from simulators.fleet import Fleet
from simulators.scenario import ProbeTransport, Scenario
from streetwatch import topics

pytestmark = pytest.mark.services
PROFILES = shipped_profiles()
_prefixes = itertools.count(1)


def prefix() -> str:
    """Device ids of their own for each test: the broker keeps retained statuses between tests."""
    return f"t{os.getpid()}x{next(_prefixes)}-"


@asynccontextmanager
async def watcher(mosquitto_server: MosquittoServer, *subscriptions: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", mosquitto_server.port) as client:
        for subscription in subscriptions:
            await client.subscribe(subscription, qos=1)
        yield client


async def collect(client: aiomqtt.Client, seconds: float, ids: str = "") -> list[aiomqtt.Message]:
    """What arrives within ``seconds`` on topics of devices whose id starts with ``ids``."""
    messages: list[aiomqtt.Message] = []

    async def gather() -> None:
        async for message in client.messages:
            if message.topic.value.startswith(f"{topics.DEVICES}/{ids}"):
                messages.append(message)

    with suppress(TimeoutError):
        await asyncio.wait_for(gather(), timeout=seconds)
    return messages


async def until(client: aiomqtt.Client, wanted: set[tuple[str, bytes]], seconds: float) -> list[tuple[str, bytes]]:
    """Messages until every (topic, payload) in ``wanted`` has been seen (or the time is up)."""
    seen: list[tuple[str, bytes]] = []

    async def watch() -> None:
        async for message in client.messages:
            seen.append((message.topic.value, bytes(message.payload)))  # type: ignore[arg-type]
            if wanted <= set(seen):
                return

    with suppress(TimeoutError):
        await asyncio.wait_for(watch(), timeout=seconds)
    return seen


async def test_telemetry_is_contract_valid_and_status_is_retained(mosquitto_server: MosquittoServer) -> None:
    p = prefix()
    scenario = Scenario(gauges=3, probes=2, probe_transport=ProbeTransport.mqtt, gauge_interval_s=0.2,
                        probe_interval_s=0.3, devices_per_client=2, id_prefix=p)
    async with watcher(mosquitto_server, topics.TELEMETRY_SUBSCRIPTION) as sub, \
            Fleet(scenario, mqtt_url=mosquitto_server.url) as fleet:
        messages = await collect(sub, 1.2, p)
        async with watcher(mosquitto_server, topics.STATUS_SUBSCRIPTION) as late:
            retained = await collect(late, 0.5, p)  # a subscriber arriving later still learns who is online
        assert fleet.mqtt is not None and fleet.mqtt.stats.connects == 3  # 5 devices, 2 per client
    by_device: dict[str, int] = {}
    for message in messages:
        parsed_topic = topics.parse_device_topic(message.topic.value)
        assert parsed_topic is not None and parsed_topic.kind == "telemetry"
        device_id = parsed_topic.device_id
        profile = PROFILES["sw-culvert-gauge-mqtt" if "CG-" in device_id else "sw-water-quality-probe-mqtt"]
        payload = bytes(message.payload)  # type: ignore[arg-type]
        parsed = parse_telemetry(device_id, payload, profile, datetime.now(UTC))
        assert parsed.rejections == [], payload
        assert {r.metric for r in parsed.readings} == set(profile.metric_names())
        for reading in parsed.readings:
            low, high = profile.plausible_range(reading.metric)
            assert low <= reading.value <= high  # type: ignore[operator]
        assert abs((datetime.now(UTC) - parsed.readings[0].ts).total_seconds()) < 5
        assert message.qos == 1
        by_device[device_id] = by_device.get(device_id, 0) + 1
    assert set(by_device) == {f"{p}CG-001", f"{p}CG-002", f"{p}CG-003", f"{p}WQ-001", f"{p}WQ-002"}
    assert all(count >= 3 for count in by_device.values())
    assert {(m.topic.value, m.payload, m.retain) for m in retained} == {
        (topics.status(device_id), b"online", True) for device_id in by_device}
    # A clean stop says goodbye: the retained status is now offline.
    async with watcher(mosquitto_server, topics.STATUS_SUBSCRIPTION) as after:
        statuses = {(m.topic.value, m.payload) for m in await collect(after, 0.5, p)}
    assert statuses == {(topics.status(device_id), b"offline") for device_id in by_device}


async def test_commands_are_acknowledged(mosquitto_server: MosquittoServer) -> None:
    p = prefix()
    gauge = f"{p}CG-001"
    async with Fleet(Scenario(gauges=1, gauge_interval_s=30, id_prefix=p), mqtt_url=mosquitto_server.url) as fleet, \
            watcher(mosquitto_server, topics.command_ack(gauge)) as client:
        commands = [
            {"id": "c-1", "action": "ping"},
            {"id": "c-2", "action": "set_interval", "params": {"interval_s": 0.5}},
            {"id": "c-3", "action": "open_the_gate"},
            {"id": "c-4", "action": "set_interval", "params": {"interval_s": "soon"}},
            {"id": "c-5", "action": "Not An Action"},
        ]
        for command in commands:
            await client.publish(topics.command(gauge), json.dumps(command), qos=1)
        await client.publish(topics.command(gauge), b"{not json", qos=1)
        acks = [parse_ack(bytes(m.payload)) for m in await collect(client, 1.0)]  # type: ignore[arg-type]
        assert fleet.gauges[gauge].interval_s == 0.5
        assert fleet.mqtt is not None and fleet.mqtt.stats.bad_commands == 2
    assert [(a.id, a.ok) for a in acks] == [("c-1", True), ("c-2", True), ("c-3", False), ("c-4", False),
                                            ("c-5", False)]
    assert "unknown action 'open_the_gate'" in (acks[2].error or "")
    assert "interval_s" in (acks[3].error or "")


async def test_a_dropout_drops_the_connection_and_the_last_will_says_offline(
        mosquitto_server: MosquittoServer) -> None:
    p = prefix()
    gauge = f"{p}CG-001"
    scenario = Scenario(gauges=2, gauge_interval_s=0.2, per_device_clients=True, id_prefix=p,
                        faults=(FaultSpec.parse("dropout:1@0.6s+0.8s"),))
    async with watcher(mosquitto_server, f"{topics.DEVICES}/#") as sub, \
            Fleet(scenario, mqtt_url=mosquitto_server.url) as fleet:
        dropped = next(d.id for d in fleet.plan.devices if d.faults)
        seen = await until(sub, {(topics.status(dropped), b"offline")}, 3.0)
        during = await collect(sub, 0.5, p)
        back = await until(sub, {(topics.status(dropped), b"online")}, 3.0)
        back += [(m.topic.value, bytes(m.payload)) for m in await collect(sub, 0.6, p)]  # type: ignore[arg-type]
        assert fleet.mqtt is not None and fleet.mqtt.stats.severed == 1
    assert dropped in (gauge, f"{p}CG-002")
    assert (topics.status(dropped), b"offline") in seen  # published by the broker: the device's last will
    assert not [m for m in during if m.topic.value == topics.telemetry(dropped)]
    assert (topics.status(dropped), b"online") in back
    assert any(topic == topics.telemetry(dropped) for topic, _ in back)


async def test_last_will_fires_when_the_simulator_process_dies(mosquitto_server: MosquittoServer) -> None:
    p = prefix()
    ids = [f"{p}CG-001", f"{p}CG-002"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "simulate", "--gauges", "2", "--per-device-clients", "--id-prefix", p,
        "--mqtt-url", mosquitto_server.url, "--gauge-interval", "0.5s", "--duration", "60s",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        async with watcher(mosquitto_server, topics.STATUS_SUBSCRIPTION) as sub:
            online = await until(sub, {(topics.status(i), b"online") for i in ids}, 15.0)
            assert {(topics.status(i), b"online") for i in ids} <= set(online)
            process.send_signal(signal.SIGKILL)  # no goodbye: only the broker can tell
            offline = await until(sub, {(topics.status(i), b"offline") for i in ids}, 10.0)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    assert {(topics.status(i), b"offline") for i in ids} <= set(offline)


async def test_an_unreachable_broker_is_one_clear_error() -> None:
    from simulators.errors import SimulatorError

    with pytest.raises(SimulatorError, match=r"MQTT broker mqtt://127\.0\.0\.1:1: .*refused"):
        async with Fleet(Scenario(gauges=1), mqtt_url="mqtt://127.0.0.1:1"):
            pass
