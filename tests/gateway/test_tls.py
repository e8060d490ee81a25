"""``mqtts://`` end to end on a Mosquitto whose only listener speaks TLS (certificates from the test CA).

Telemetry comes in over TLS, a rule turns it into an alert notification published over TLS and a
lamp command sent over TLS to a lamp that answers over TLS. The broker logs every connection:
each of the gateway's clients must have connected, and no client may have tried plaintext (that
leaves an OpenSSL "wrong version number" line, as the health test below shows).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiomqtt
import pytest

from benchmarks.servers import MosquittoServer
from benchmarks.tls import TlsMaterial
from control import CommandStore
from control.model import DeliveryStatus
from device_registry import Device
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import default_services
from simulators import Fleet, Scenario
from streetwatch import topics
from streetwatch.config import DatabaseUrl, Settings
from streetwatch.database import open_database
from streetwatch.mqtt import MqttTransport, TlsFiles
from tests.control.conftest import MQTT_LAMP_PROFILE
from tests.control.mqtt_device import MqttTestLamp
from tests.gateway.conftest import eventually, every_client_failed, gateway_settings, http_get, register
from tests.rules.mqtt_support import Subscriber

pytestmark = pytest.mark.services

FLOOD_RULE = """
rules:
  - name: tls-flood
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    direction: above
    levels: {red: 800}
    actions:
      - at: red
        action: set_dim
        target: group
        groups_matching: "hazard-*"
        params: {level_pct: 100}
"""

PLAINTEXT_ATTEMPT = "wrong version number"  # what Mosquitto logs when a plaintext client meets its TLS listener


def _device(device_id: str, kind: str, profile: str) -> Device:
    return Device.model_validate({"id": device_id, "kind": kind, "profile": profile, "address": {"transport": "mqtt"},
                                  "location": {"latitude": 23.13, "longitude": 113.26}, "status": "active",
                                  "groups": ["hazard-1"]})


def _settings(tmp_path: Path, url: str, mqtt_url: str, tls: TlsMaterial | None, api_port: int) -> Settings:
    base = gateway_settings(tmp_path, url, mqtt_url, api_port=api_port)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "flood.yaml").write_text(FLOOD_RULE)
    mqtt = base.mqtt.model_copy(update={"ca_file": tls.ca_file if tls is not None else None})
    return base.model_copy(update={"rules_dir": rules_dir, "mqtt": mqtt})


async def _confirmed_dims(url: str) -> list[tuple[str, DeliveryStatus]]:
    async with open_database(DatabaseUrl.parse(url)) as db:
        store = await CommandStore.open(db)
        result = []
        for progress in await store.recent(limit=5):
            result += [(d.device_id, d.status) for d in await store.deliveries(progress.command.id)]
        return result


async def test_ingest_alerts_and_lamp_commands_all_flow_over_mqtts(
        tmp_path: Path, mosquitto_tls: MosquittoServer, tls_material: TlsMaterial,
        http_ports: tuple[int, int]) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    await register(url, [_device("CG-TLS-1", "culvert_gauge", "sw-culvert-gauge-mqtt"),
                         _device("LT-TLS-1", "lamp_controller", "test-mqtt-lamp")], profiles=[MQTT_LAMP_PROFILE])
    settings = _settings(tmp_path, url, mosquitto_tls.url, tls_material, http_ports[1])
    assert settings.mqtt_url.startswith("mqtts://")
    log_from = len(mosquitto_tls.log())
    devices = MqttTransport.from_url(mosquitto_tls.url, TlsFiles(ca_file=tls_material.ca_file))
    gateway = Gateway(settings, services=default_services(), options=RunOptions(modbus=False))
    assert gateway.mqtt is not None
    async with MqttTestLamp(devices, "LT-TLS-1") as lamp, Subscriber(devices, "streetwatch/alerts/#") as alerts, \
            running(gateway):
        await eventually(lambda: [(c.name, c.connected) for c in gateway.mqtt.clients] == [  # type: ignore[union-attr]
            ("intake", True), ("control", True), ("alerts", True)], what="all three clients connected over TLS")
        async with devices.client("CG-TLS-1") as gauge:
            body = {"ts": int(time.time() * 1000), "water_level_mm": 912.0}
            await gauge.publish(topics.telemetry("CG-TLS-1"), json.dumps(body), qos=1)
        topic, alert = await alerts.next(timeout_s=15)
        assert (topic, alert["event"], alert["rule"]) == ("streetwatch/alerts/red/CG-TLS-1", "raised", "tls-flood")
        await eventually(lambda: lamp.dim_level_pct == 100, what="the lamp dimmed over TLS")
        await eventually(lambda: _confirmed_dims(url), timeout_s=15, what="a delivery recorded")
        await eventually(lambda: gateway.pipeline is not None and gateway.pipeline.stored_readings >= 1,
                         what="the reading stored")
        code, health = await http_get(f"http://127.0.0.1:{http_ports[1]}/health")
    assert code == 200 and json.loads(health)["mqtt"] == {
        name: {"ready": True, "reason": None} for name in ("intake", "control", "alerts")}
    assert ("LT-TLS-1", DeliveryStatus.confirmed) in await _confirmed_dims(url)
    assert [c["action"] for c in lamp.received] == ["set_dim"]
    log = mosquitto_tls.log()[log_from:]
    client_id = settings.mqtt.client_id
    for who in (client_id, f"{client_id}-alerts", f"{client_id}-control", "test-lamp-LT-TLS-1", "CG-TLS-1"):
        assert f" as {who} " in log, f"{who} never connected to the TLS listener"
    assert PLAINTEXT_ATTEMPT not in log and "Protocol error" not in log


async def test_health_and_metrics_report_every_client_not_only_the_intake(
        tmp_path: Path, mosquitto_tls: MosquittoServer, http_ports: tuple[int, int]) -> None:
    """Plaintext against a TLS-only broker: no client can connect, and each says so, with the reason."""
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    await register(url, [])
    plaintext = mosquitto_tls.url.replace("mqtts://", "mqtt://")
    metrics_port, api_port = http_ports
    settings = _settings(tmp_path, url, plaintext, None, api_port)
    settings = settings.model_copy(update={"gateway": settings.gateway.model_copy(
        update={"metrics_port": metrics_port})})
    log_from = len(mosquitto_tls.log())
    gateway = Gateway(settings, services=default_services(), options=RunOptions(modbus=False))
    async with running(gateway):
        assert gateway.mqtt is not None

        await eventually(lambda: every_client_failed(gateway.mqtt), timeout_s=30, what="every client failed once")
        code, text = await http_get(f"http://127.0.0.1:{api_port}/health")
        _, metrics = await http_get(f"http://127.0.0.1:{metrics_port}/metrics")
    health = json.loads(text)
    assert code == 503 and health["status"] == "degraded"
    assert set(health["mqtt"]) == {"intake", "alerts", "control"}
    for name, client in health["mqtt"].items():
        assert client["ready"] is False and client["reason"], name
    for name in ("intake", "alerts", "control"):
        assert f'streetwatch_mqtt_client_connected{{client="{name}"}} 0.0' in metrics
    assert PLAINTEXT_ATTEMPT in mosquitto_tls.log()[log_from:]  # the broker saw plaintext, and refused it


async def test_the_simulators_publish_over_mqtts(mosquitto_tls: MosquittoServer, tls_material: TlsMaterial) -> None:
    transport = MqttTransport.from_url(mosquitto_tls.url, TlsFiles(ca_file=tls_material.ca_file))
    scenario = Scenario(gauges=2, gauge_interval_s=0.2, devices_per_client=1, id_prefix="tls-")
    async with Subscriber(transport, topics.TELEMETRY_SUBSCRIPTION) as heard, Fleet(scenario, mqtt=transport) as fleet:
        topic, body = await heard.next(timeout_s=10)
        assert fleet.mqtt is not None and fleet.mqtt.stats.connects == 2
    parsed = topics.parse_device_topic(topic)
    assert parsed is not None and parsed.device_id.startswith("tls-CG-") and "water_level_mm" in body


async def test_a_client_certificate_is_presented_when_the_broker_requires_one(tls_material: TlsMaterial) -> None:
    server = MosquittoServer(tls=tls_material, require_certificate=True)
    server.start()
    try:
        with_certificate = MqttTransport.from_url(server.url, TlsFiles(
            tls_material.ca_file, tls_material.client_cert, tls_material.client_key))
        async with with_certificate.client("with-certificate") as client:
            await client.publish("streetwatch/test", b"1", qos=1)
        without = MqttTransport.from_url(server.url, TlsFiles(ca_file=tls_material.ca_file))
        with pytest.raises(aiomqtt.MqttError):
            async with without.client("without-certificate", timeout=3):
                pass
    finally:
        server.close()
