"""Hostile or unlucky MQTT traffic through a real Mosquitto into a running gateway: it cannot blind the dead-letter
recorder, readings from the future are refused, and a device registered a moment after its first message keeps it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_drivers.mqtt import encode_telemetry
from gateway.cli import main
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.intake.records import GatewayRecords
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.gateway.conftest import eventually, gateway_settings, http_get, mqtt_device, publisher, register

pytestmark = pytest.mark.services


async def test_hostile_payloads_and_ids_are_recorded_and_a_failing_recorder_shows_in_health(
        fresh_pg_url: str, mqtt_url: str, tmp_path: Path, http_ports: tuple[int, int], *,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    gauge = f"CG-{uuid.uuid4().hex[:6]}"
    await register(fresh_pg_url, [mqtt_device(gauge)])
    metrics_port, api_port = http_ports
    settings = gateway_settings(tmp_path, fresh_pg_url, mqtt_url, metrics_port=metrics_port, api_port=api_port)
    now = datetime.now(UTC)
    async with running(Gateway(settings, options=RunOptions(modbus=False))) as gateway, publisher(mqtt_url) as device:
        assert gateway.ingest is not None and gateway.recorder is not None and gateway.pipeline is not None
        ingest, recorder = gateway.ingest, gateway.recorder
        await eventually(lambda: ingest.connected, what="MQTT session")
        await device.publish(topics.telemetry(gauge), b'{"water_level_mm": \x00 1}', qos=1)  # NUL: not JSON
        for _ in range(7):
            await device.publish(topics.telemetry(gauge), b"{", qos=1)
        await device.publish(topics.telemetry("X" * 9_000), encode_telemetry({"water_level_mm": 1}), qos=1)
        await device.publish(topics.telemetry(gauge), encode_telemetry({"water_level_mm": 999},
                                                                        now + timedelta(hours=23)), qos=1)
        await device.publish(topics.telemetry(gauge), encode_telemetry({"water_level_mm": 412}, now), qos=1)
        await eventually(lambda: sum(ingest.stats.rejected.values()) == 10, what="every rejection counted")
        await eventually(lambda: gateway.pipeline is not None and gateway.pipeline.stored_readings == 1,
                         what="the one good reading stored")
        assert ingest.stats.rejected == {"not_json": 8, "bad_device_id": 1, "future_timestamp": 1}
        assert ingest.stats.unknown_device_messages == 0  # the 9,000-character id is kept nowhere
        assert await recorder.flush() and not recorder.failing
        code, body = await http_get(f"http://127.0.0.1:{api_port}/health")
        assert code == 200 and json.loads(body)["recorder"] == "recording"

        # The database refuses every dead letter now: the gateway says so.
        async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
            await db.execute("ALTER TABLE gateway_dead_letters ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
        await device.publish(topics.telemetry(gauge), b"[", qos=1)
        await eventually(lambda: recorder.failing, what="the recorder failing")
        code, body = await http_get(f"http://127.0.0.1:{api_port}/health")
        assert code == 503 and json.loads(body)["recorder"].startswith("failing: ")
        assert json.loads(body)["recorder_refused_rows"] == 1
        _, metrics = await http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert "streetwatch_recorder_failing 1.0" in metrics
        assert "streetwatch_recorder_refused_rows_total 1.0" in metrics
        async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
            await db.execute("ALTER TABLE gateway_dead_letters DROP CONSTRAINT refuse_all")
        await device.publish(topics.telemetry(gauge), b"]", qos=1)
        await eventually(lambda: not recorder.failing, what="the recorder recording again")
        code, _ = await http_get(f"http://127.0.0.1:{api_port}/health")
        assert code == 200

    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        letters = await GatewayRecords(db).dead_letters()
    counts: dict[tuple[str, str], int] = {}
    for d in letters:
        counts[(d.device_id, d.reason)] = counts.get((d.device_id, d.reason), 0) + d.count
    assert counts == {(gauge, "not_json"): 9, ("(invalid id)", "bad_device_id"): 1, (gauge, "future_timestamp"): 1}
    assert any("\u2400" in d.payload for d in letters)
    invalid = next(d for d in letters if d.reason == "bad_device_id")
    assert len(invalid.topic) <= 256 and "9000-character device id" in invalid.detail
    assert len(letters) <= 5  # one row per device, reason and minute (a minute may turn during the test)

    monkeypatch.setenv("STREETWATCH_DATABASE_URL", fresh_pg_url)
    monkeypatch.setenv("STREETWATCH_DATA_DIR", str(settings.data_dir))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["ingest", "rejected", "--reason", "not_json", "--format", "json"]) == 0
    assert sum(row["count"] for row in json.loads(capsys.readouterr().out)) == 9
    assert await asyncio.to_thread(main, ["ingest", "rejected", "--reason", "not_json", "--format", "csv"]) == 0
    assert sum(int(row["count"]) for row in csv.DictReader(io.StringIO(capsys.readouterr().out))) == 9
    assert await asyncio.to_thread(main, ["ingest", "rejected", "--reason", "future_timestamp"]) == 0
    table = capsys.readouterr().out
    assert "COUNT" in table.splitlines()[0] and "ahead of the gateway's clock" in table


async def test_a_device_registered_just_after_its_first_messages_keeps_them(
        database_url: str, mqtt_url: str, tmp_path: Path) -> None:
    newcomer, stranger = f"CG-{uuid.uuid4().hex[:6]}", f"CG-{uuid.uuid4().hex[:6]}"
    settings = gateway_settings(tmp_path, database_url, mqtt_url)
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    async with running(Gateway(settings, options=RunOptions(modbus=False))) as gateway, publisher(mqtt_url) as device:
        assert gateway.ingest is not None
        ingest = gateway.ingest
        await eventually(lambda: ingest.connected, what="MQTT session")
        for second in range(3):
            message = encode_telemetry({"water_level_mm": 400 + second}, ts + timedelta(seconds=second))
            await device.publish(topics.telemetry(newcomer), message, qos=1)
        await device.publish(topics.telemetry(stranger), encode_telemetry({"water_level_mm": 1}, ts), qos=1)
        await register(database_url, [mqtt_device(newcomer)])  # `device import` right after the messages came
        await eventually(lambda: gateway.pipeline is not None and gateway.pipeline.stored_readings == 3,
                         what="the newcomer's first readings stored")
        await eventually(lambda: ingest.stats.unknown_device_messages == 1, what="the stranger refused after the hold")
        assert ingest.stats.messages == 4 and len(ingest.held) == 0
