"""The gateway trusts no ack it did not ask for: forged, misdirected and expired acks never confirm,
and each is counted and kept as a dead letter with its reason (real Mosquitto, real SQLite)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest

from control.model import CommandTarget
from control.mqtt_channel import AckRefusal, MqttChannel, RefusedAck
from gateway.composition.services import ControlService, RefusedAcks
from gateway.intake.recorder import Recorder
from gateway.intake.records import GatewayRecords
from gateway.intake.schema import MIGRATIONS as GATEWAY_MIGRATIONS
from streetwatch import topics
from streetwatch.clock import FakeClock, SystemClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from streetwatch.migrations import migrate
from streetwatch.mqtt import MqttTransport
from tests.control.conftest import Rig, mqtt_lamp
from tests.control.mqtt_device import MqttTestLamp

pytestmark = pytest.mark.services


async def test_forged_acks_never_confirm_a_command(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-F1"), mqtt_lamp("MQ-F2")])
    refused: list[RefusedAck] = []
    broker = MqttTransport.from_url(mqtt_url)
    async with MqttChannel(broker, client_id="t-forge", on_refused=refused.append) as channel, \
            MqttTestLamp(mqtt_url, "MQ-F1", "silent") as lamp, rig.dispatcher({"mqtt": channel}) as dispatcher, \
            aiomqtt.Client(broker.url.host, broker.url.port, identifier="t-forger") as forger:
        command = await dispatcher.submit(CommandTarget("device", "MQ-F1"), "switch", {"on": False}, "bob", "",
                                          ttl_s=2.0)
        await asyncio.wait_for(lamp.got_command.wait(), 5)
        sent_id = lamp.received[0]["id"]
        await forger.publish(topics.command_ack("MQ-F1"), json.dumps({"id": "424242", "ok": True}), qos=1)
        await forger.publish(topics.command_ack("MQ-F2"), json.dumps({"id": sent_id, "ok": True}), qos=1)
        await forger.publish(topics.command_ack("MQ-F1"), b'{"ok": true}', qos=1)
        progress = await dispatcher.wait_for(command.id)
    assert progress.status == "expired"
    assert channel.acks.confirmed == 0
    assert [(r.device_id, r.reason) for r in refused] == [
        ("MQ-F1", AckRefusal.UNKNOWN_COMMAND), ("MQ-F2", AckRefusal.WRONG_DEVICE), ("MQ-F1", AckRefusal.UNREADABLE)]
    assert refused[1].detail == f"command {sent_id} was sent to MQ-F1"
    assert refused[1].topic == "streetwatch/devices/MQ-F2/cmd/ack"
    assert json.loads(refused[1].payload) == {"id": sent_id, "ok": True}


async def test_an_ack_after_the_time_to_live_does_not_confirm(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-F3")])
    # The channel's clock is an hour ahead of the dispatcher's: every ack arrives after expires_at.
    late = FakeClock(SystemClock().now() + timedelta(hours=1))
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-expired", clock=late) as channel, \
            MqttTestLamp(mqtt_url, "MQ-F3") as lamp, rig.dispatcher({"mqtt": channel}) as dispatcher:
        command = await dispatcher.submit(CommandTarget("device", "MQ-F3"), "set_dim", {"level_pct": 30}, "bob", "",
                                          ttl_s=1.0)
        progress = await dispatcher.wait_for(command.id)
    assert lamp.received and progress.status == "expired"
    assert channel.acks.confirmed == 0 and channel.acks.refused[AckRefusal.EXPIRED] >= 1


async def test_refused_acks_become_dead_letters_and_metrics(tmp_path: Path, mqtt_url: str) -> None:
    clock = FakeClock()
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'gw.db'}")) as db:
        await migrate(db, GATEWAY_MIGRATIONS)
        records = GatewayRecords(db)
        recorder = Recorder(records, clock=clock)
        keep = RefusedAcks(recorder, clock)
        def forged() -> RefusedAck:
            return RefusedAck(clock.now(), "MQ-F1", "streetwatch/devices/MQ-F1/cmd/ack", AckRefusal.UNKNOWN_COMMAND,
                              "no open command '7'", b'{"id": "7", "ok": true}')

        for _ in range(5):  # a device repeating itself: one row for the minute, with its count
            keep(forged())
        clock.advance(seconds=61)
        keep(forged())
        assert await recorder.flush()
        letters = await records.dead_letters(reason=AckRefusal.UNKNOWN_COMMAND)
    assert sorted((x.device_id, x.topic, x.detail, x.payload, x.count) for x in letters) == [
        ("MQ-F1", "streetwatch/devices/MQ-F1/cmd/ack", "no open command '7'", '{"id": "7", "ok": true}', 1),
        ("MQ-F1", "streetwatch/devices/MQ-F1/cmd/ack", "no open command '7'", '{"id": "7", "ok": true}', 5)]

    channel = MqttChannel(MqttTransport.from_url(mqtt_url))
    channel.acks.received, channel.acks.confirmed = 7, 2
    channel.acks.refused.update({AckRefusal.WRONG_DEVICE: 4, AckRefusal.EXPIRED: 1})
    service = ControlService(dispatcher=None, scheduler=None, mqtt=channel)  # type: ignore[arg-type]
    (family,) = service.collect_metrics()
    assert family.name == "streetwatch_command_acks"
    assert {s.labels["outcome"]: s.value for s in family.samples if s.name.endswith("_total")} == {
        "received": 7, "confirmed": 2, "ack_wrong_device": 4, "ack_expired": 1}
