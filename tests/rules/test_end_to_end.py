"""End to end through a real Mosquitto: a gauge publishes a rising level over MQTT, the rules service
(shipped rules, SQLite store) raises and escalates, and the alerts arrive on the alert topics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from rules.actions import CommandTarget
from rules.alerts import AlertState
from rules.runner import RulesService
from streetwatch import topics
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, Settings
from streetwatch.database import open_database
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading
from tests.rules.mqtt_support import Subscriber, host_port
from tests.rules.support import START, RecordingCommands, device

pytestmark = pytest.mark.services


class TelemetryBridge:
    """What the gateway's MQTT ingest does, in miniature: telemetry JSON → readings → rules."""

    def __init__(self, mqtt_url: str, service: RulesService) -> None:
        self._client = aiomqtt.Client(*host_port(mqtt_url))
        self._service = service
        self.handled = asyncio.Queue[Reading]()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with self._client:
            await self._client.subscribe(topics.TELEMETRY_SUBSCRIPTION, qos=1)
            self.ready.set()
            async for message in self._client.messages:
                parsed = topics.parse_device_topic(str(message.topic))
                assert parsed is not None and isinstance(message.payload, bytes)
                body = json.loads(message.payload)
                reading = Reading(parsed.device_id, "water_level_mm", datetime.fromisoformat(body["ts"]),
                                  float(body["water_level_mm"]))
                await self._service.on_reading(reading)
                await self.handled.put(reading)


@pytest.fixture
async def running(tmp_path: Path, mqtt_url: str) -> AsyncIterator[tuple[RulesService, FakeClock, RecordingCommands]]:
    clock = FakeClock(START)
    commands = RecordingCommands()
    settings = Settings(mqtt_url=mqtt_url, data_dir=tmp_path)
    gauge = device("CG-7", site="district-3", groups=("hazard-07",))
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db, \
            RulesService(db, settings, clock=clock, mqtt=MqttTransport.from_settings(settings), devices={"CG-7": gauge},
                         commands=commands,
                         tick_interval_s=0.02) as service:
        yield service, clock, commands


async def test_a_rising_gauge_raises_and_escalates_on_the_alert_topics(
        running: tuple[RulesService, FakeClock, RecordingCommands], mqtt_url: str) -> None:
    service, clock, commands = running
    bridge = TelemetryBridge(mqtt_url, service)
    async with Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts, asyncio.TaskGroup() as group:
        runner = group.create_task(bridge.run(), name="bridge")
        await asyncio.wait_for(bridge.ready.wait(), 10)
        host, port = host_port(mqtt_url)
        async with aiomqtt.Client(host, port, identifier="CG-7") as gauge:
            for level in (120, 250, 420, 610, 850, 900, 950, 960):
                body = {"ts": clock.now().isoformat(), "water_level_mm": level}
                await gauge.publish(topics.telemetry("CG-7"), json.dumps(body), qos=1)
                await asyncio.wait_for(bridge.handled.get(), 10)
                clock.advance(timedelta(seconds=10))  # the service's ticker fires the 30 s timers
        received = [await alerts.next() for _ in range(3)]
        runner.cancel()
    assert [(topic, body["event"], body["severity"]) for topic, body in received] == [
        ("streetwatch/alerts/yellow/CG-7", "raised", "yellow"),
        ("streetwatch/alerts/orange/CG-7", "escalated", "orange"),
        ("streetwatch/alerts/red/CG-7", "escalated", "red"),
    ]
    red = received[-1][1]
    assert (red["rule"], red["site"], red["threshold"], red["state"]) == ("culvert-water-level", "district-3", 800,
                                                                         "raised")
    assert red["location"]["landmark"] == "CG-7 landmark"
    assert red["alert_id"] == received[0][1]["alert_id"]  # one alert, escalated
    assert service.store is not None
    (stored,) = [a for a in await service.store.active_alerts() if a.rule == "culvert-water-level"]
    assert (stored.state, stored.severity, stored.notified) == (AlertState.raised, "red", True)
    assert [(c["target"], c["action"], c["requester"]) for c in commands.calls] == [
        (CommandTarget("group", "hazard-07"), "set_dim", "rule:culvert-water-level")]
