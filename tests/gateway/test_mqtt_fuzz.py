"""Tens of thousands of malformed MQTT messages mixed with valid ones, through a real Mosquitto into a running
gateway on TimescaleDB: every valid reading is stored exactly once and every rejection is counted exactly, per
reason, in the gateway's counters and in the dead letters' counts."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.servers import PostgresServer
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.intake.records import GatewayRecords
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.gateway.conftest import eventually, forget_session, gateway_settings, mqtt_device, publisher, register
from tests.gateway.test_durability import stored

pytestmark = pytest.mark.services
MALFORMED = 20_000
VALID = 3_000
MAX_PAYLOAD = 1_024
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def stamp(index: int) -> str:
    return (T0 + timedelta(milliseconds=100 * index)).isoformat()  # all within the past hours


def malformed(rng: random.Random, gauge: str, index: int) -> tuple[str, bytes, str, int]:
    """(topic, payload, what the gateway must count, readings it must store)."""
    kind = rng.randrange(10)
    topic = topics.telemetry(gauge)
    if kind == 0:
        return topic, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))) + b"\xff{", "not_json", 0
    if kind == 1:
        return topic, b'{"water_level_mm": 1\x00}', "not_json", 0
    if kind == 2:
        return topic, rng.choice([b"[1, 2]", b"null", b'"x"', b"42"]), "not_object", 0
    if kind == 3:
        return topic, json.dumps({"ts": rng.choice(["yesterday", "2026-07-01T12:00:00", True]),
                                  "water_level_mm": 1}).encode(), "bad_timestamp", 0
    if kind == 4:
        ahead = (datetime.now(UTC) + timedelta(hours=rng.randrange(1, 48))).isoformat()
        return topic, json.dumps({"ts": ahead, "water_level_mm": 1}).encode(), "future_timestamp", 0
    if kind == 5:
        return topic, b'{"water_level_mm": 1, "pad": "' + b"x" * MAX_PAYLOAD + b'"}', "oversized", 0
    if kind == 6:
        bad_id = rng.choice(["bad id", "x" * rng.randrange(65, 9_000), "CG-1\u202e", "$"])
        return topics.telemetry(bad_id), b'{"water_level_mm": 1}', "bad_device_id", 0
    if kind == 7:  # a partly valid message: one reading stored, one metric refused
        return topic, json.dumps({"ts": stamp(index), "water_level_mm": 5, "colour": 3}).encode(), "unknown_metric", 1
    if kind == 8:
        return topic, json.dumps({"ts": stamp(index), "water_level_mm": 5, "battery_v": "low"}).encode(), \
            "wrong_type", 1
    return topic, json.dumps({"ts": stamp(index), "water_level_mm": 1e400}).encode(), "not_finite", 0


async def test_fuzzed_payloads_mixed_with_valid_ones_are_counted_exactly(
        postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str, tmp_path: Path) -> None:
    rng = random.Random(15)
    gauges = [f"CG-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    await register(fresh_pg_url, [mqtt_device(g) for g in gauges])
    settings = gateway_settings(tmp_path, fresh_pg_url, mqtt_url)
    settings.mqtt.max_payload_bytes = MAX_PAYLOAD
    messages: list[tuple[str, bytes]] = []
    expected_rejections: Counter[str] = Counter()
    expected_readings = 0
    for index in range(MALFORMED + VALID):
        gauge = gauges[index % len(gauges)]
        if index % 8 == 0 and index // 8 < VALID:
            messages.append((topics.telemetry(gauge), json.dumps(
                {"ts": stamp(index), "water_level_mm": index % 997, "battery_v": 3.7}).encode()))
            expected_readings += 2
            continue
        topic, payload, reason, readings = malformed(rng, gauge, index)
        messages.append((topic, payload))
        expected_rejections[reason] += 1
        expected_readings += readings
    assert len(messages) == MALFORMED + VALID

    async with running(Gateway(settings, options=RunOptions(modbus=False))) as gateway:
        assert gateway.ingest is not None and gateway.recorder is not None
        ingest = gateway.ingest
        await eventually(lambda: ingest.connected, what="MQTT session")
        async with publisher(mqtt_url) as device:
            for start in range(0, len(messages), 100):  # 100 in flight, each acknowledged by the broker
                await asyncio.gather(*(device.publish(topic, payload, qos=1)
                                       for topic, payload in messages[start:start + 100]))
        await eventually(lambda: ingest.stats.messages == len(messages), timeout_s=30, what="every message handled")
        await eventually(lambda: gateway.pipeline is not None and gateway.pipeline.stored_readings
                         >= expected_readings, timeout_s=30, what="the readings stored")
        assert await gateway.recorder.flush()
    await forget_session(mqtt_url, settings.mqtt.client_id)

    assert dict(ingest.stats.rejected) == dict(expected_rejections)
    assert ingest.stats.unknown_device_messages == 0 and ingest.stats.readings == expected_readings
    database = fresh_pg_url.rsplit("/", 1)[1]
    assert stored(postgres_server, database) == (expected_readings, expected_readings)  # each exactly once
    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        assert await GatewayRecords(db).count_dead_letters() == dict(expected_rejections)
    assert not gateway.recorder.failing and gateway.recorder.refused_rows == 0 and gateway.recorder.dropped == 0
