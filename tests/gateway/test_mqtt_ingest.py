"""MQTT telemetry through a real Mosquitto into the store (SQLite and TimescaleDB), with everything around it:
dead letters, unregistered senders, status messages, the metrics and the API."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.servers import MosquittoServer
from device_drivers.mqtt import encode_telemetry
from gateway.cli import main
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.intake.records import GatewayRecords
from streetwatch import topics
from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.database import open_database
from telemetry_store import open_store
from tests.gateway.conftest import (
    LAMP_MQTT_PROFILE,
    eventually,
    gateway_settings,
    http_get,
    mqtt_device,
    publisher,
    register,
)

pytestmark = pytest.mark.services
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)  # within retention


async def count_readings(database_url: str) -> int:
    async with open_store(DatabaseUrl.parse(database_url), StoreSettings()) as store:
        values = await store.latest()
        total = 0
        for device in {v.device_id for v in values}:
            for metric in {v.metric for v in values if v.device_id == device}:
                total += len(await store.history(device, metric, T0 - timedelta(days=1), T0 + timedelta(days=1)))
        return total


async def test_telemetry_reaches_the_store_and_bad_input_is_set_aside(
        database_url: str, mqtt_url: str, tmp_path: Path, http_ports: tuple[int, int], *,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Ids of this run only: retained status messages stay on the shared broker between tests.
    gauge, lamp, stranger = (f"{prefix}-{uuid.uuid4().hex[:6]}" for prefix in ("CG", "LP", "CG"))
    await register(database_url, [mqtt_device(gauge), mqtt_device(lamp, "test-lamp-mqtt", "lamp_controller")],
                   profiles=[LAMP_MQTT_PROFILE])
    metrics_port, api_port = http_ports
    settings = gateway_settings(tmp_path, database_url, mqtt_url, metrics_port=metrics_port, api_port=api_port)
    lamp_values = {"power_w": 41.5, "supply_voltage_v": 230.1, "lamp_current_a": 0.18, "dim_level_pct": 80,
                   "power_factor": 0.95, "energy_kwh": 1234.5, "controller_temp_c": 31.2, "relay_on": 1,
                   "fault_bits": 0, "lamp_running_hours": 5012}
    async with running(Gateway(settings, options=RunOptions(modbus=False))) as gateway, publisher(mqtt_url) as device:
        try:
            await eventually(lambda: gateway.ingest is not None and gateway.ingest.connected, what="MQTT session")
            for minute in range(5):
                ts = T0 + timedelta(minutes=minute)
                await device.publish(topics.telemetry(gauge), encode_telemetry({"water_level_mm": 400 + minute,
                                                                                "battery_v": 3.7}, ts), qos=1)
                await device.publish(topics.telemetry(lamp), encode_telemetry(lamp_values, ts), qos=1)
            await device.publish(topics.telemetry(gauge), b"{not json", qos=1)
            await device.publish(topics.telemetry(gauge), encode_telemetry({"water_level_mm": 1, "colour": 3},
                                                                            T0 + timedelta(hours=1)), qos=1)
            await device.publish(topics.telemetry(stranger), encode_telemetry({"water_level_mm": 9}, T0), qos=1)
            await device.publish(topics.status(gauge), b"offline", qos=1, retain=True)
            expected = 5 * 2 + 5 * 10 + 1
            await eventually(lambda: gateway.pipeline is not None and gateway.pipeline.stored_readings >= expected,
                             what="the readings in the store")
            assert gateway.ingest is not None and gateway.states is not None
            states = gateway.states
            await eventually(lambda: getattr(states.get(gauge), "online", None) is False, what="the gauge offline")
            await device.publish(topics.status(gauge), b"online", qos=1, retain=True)
            await eventually(lambda: getattr(states.get(gauge), "online", None) is True, what="the gauge online")

            stats = gateway.ingest.stats
            assert stats.rejected == {"not_json": 1, "unknown_metric": 1}
            # held a moment (it might have just been registered), then refused
            await eventually(lambda: stats.unknown_device_messages == 1, what="the stranger refused")
            _, metrics = await http_get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert 'streetwatch_readings_received_total{transport="mqtt"} 61.0' in metrics
            assert 'streetwatch_rejected_total{reason="not_json",transport="mqtt"} 1.0' in metrics
            assert "streetwatch_mqtt_reading_pauses_total 0.0" in metrics  # a few messages: never behind
            assert "streetwatch_spool_bytes" in metrics and "streetwatch_poll_latency_seconds_bucket" in metrics
            code, body = await http_get(f"http://127.0.0.1:{api_port}/health")
            health = json.loads(body)
            assert code == 200 and health["status"] == "ok" and health["broker"] == "connected"
            assert health["store"] == "reachable"
            code, body = await http_get(f"http://127.0.0.1:{api_port}/devices/{gauge}/state")
            assert code == 200 and json.loads(body)["online"] is True and json.loads(body)["source"] == "mqtt-status"
            code, _ = await http_get(f"http://127.0.0.1:{api_port}/devices/NOPE/state")
            assert code == 404
            await gateway.recorder.flush()  # type: ignore[union-attr]
        finally:  # retained messages outlive the test on the shared broker
            await device.publish(topics.status(gauge), b"", qos=1, retain=True)

    assert gateway.journal is not None and gateway.journal.backlog == 0
    assert await count_readings(database_url) == expected
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        records = GatewayRecords(db)
        letters = await records.dead_letters()
        assert sorted((d.device_id, d.reason, d.metric) for d in letters) == [
            (gauge, "not_json", None), (gauge, "unknown_metric", "colour")]
        assert next(d for d in letters if d.reason == "not_json").payload == "{not json"
        assert [p.device_id for p in await records.pending()] == [stranger]
        events = [(e.online, e.source) for e in reversed(await records.device_events(gauge))]
        assert events == [(True, "mqtt-telemetry"), (False, "mqtt-status"), (True, "mqtt-status")]

    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("STREETWATCH_DATA_DIR", str(settings.data_dir))
    assert await asyncio.to_thread(main, ["device", "pending", "--format", "json"]) == 0
    pending = json.loads(capsys.readouterr().out)
    assert [(p["device"], p["messages"], p["registered"]) for p in pending] == [(stranger, 1, "no")]
    assert await asyncio.to_thread(main, ["ingest", "rejected", "--since", "-1h", "--format", "json"]) == 0
    assert {r["reason"] for r in json.loads(capsys.readouterr().out)} == {"not_json", "unknown_metric"}
    assert await asyncio.to_thread(main, ["ingest", "status", "--format", "json"]) == 0
    status = {row["what"]: row["value"] for row in json.loads(capsys.readouterr().out)}
    assert status["spool backlog (journal records not in the store)"] == 0
    assert status["unregistered devices sending (device pending)"] == 1


async def test_the_session_survives_a_broker_restart_and_two_gateways_share_the_load(
        mosquitto_server: MosquittoServer, mqtt_url: str, tmp_path: Path) -> None:
    """Reconnect with backoff and subscribe again; with a shared subscription each message goes to one gateway."""
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    gauges = [f"CG-{uuid.uuid4().hex[:6]}" for _ in range(10)]
    await register(url, [mqtt_device(g) for g in gauges])
    group = f"g{uuid.uuid4().hex[:6]}"
    first = gateway_settings(tmp_path / "a", url, mqtt_url).model_copy(deep=True)
    second = gateway_settings(tmp_path / "b", url, mqtt_url).model_copy(deep=True)
    first.mqtt.shared_group = second.mqtt.shared_group = group
    options = RunOptions(modbus=False, maintenance=False)
    async with running(Gateway(first, options=options)) as a, running(Gateway(second, options=options)) as b:
        assert a.ingest is not None and b.ingest is not None and a.pipeline is not None and b.pipeline is not None
        await eventually(lambda: a.ingest.connected and b.ingest.connected, what="both subscribed")
        assert a.ingest.subscriptions[0] == f"$share/{group}/streetwatch/devices/+/telemetry"
        await asyncio.to_thread(mosquitto_server.stop)
        await eventually(lambda: not a.ingest.connected and not b.ingest.connected, what="both disconnected")
        await asyncio.to_thread(mosquitto_server.start)
        await eventually(lambda: a.ingest.connected and b.ingest.connected, what="both reconnected")
        async with publisher(mqtt_url) as device:
            for i in range(20):
                for gauge in gauges:
                    await device.publish(topics.telemetry(gauge), encode_telemetry(
                        {"water_level_mm": i, "battery_v": 3.7}, T0 + timedelta(seconds=i)), qos=1)
        await eventually(lambda: a.pipeline.stored_readings + b.pipeline.stored_readings >= 400,
                         what="every reading stored by one gateway or the other")
        assert a.ingest.stats.connects == b.ingest.stats.connects == 2
        assert a.ingest.stats.messages > 0 and b.ingest.stats.messages > 0  # the load was split
        assert a.ingest.stats.messages + b.ingest.stats.messages == 200
    assert await count_readings(url) == 400
