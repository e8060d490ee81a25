"""Commands over a real Mosquitto: ack, no ack until expiry, refusal, a late ack, latest wins."""

from __future__ import annotations

import asyncio
import json

import pytest

from benchmarks.servers import free_port
from control.model import CommandTarget, DeliveryStatus
from control.mqtt_channel import MqttChannel
from streetwatch import topics
from streetwatch.mqtt import MqttTransport
from tests.control.conftest import Rig, mqtt_lamp
from tests.control.mqtt_device import MqttTestLamp

pytestmark = pytest.mark.services


def target(device_id: str) -> CommandTarget:
    return CommandTarget("device", device_id)


async def test_acknowledged_command_is_confirmed(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-1"), mqtt_lamp("MQ-2")])
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-ack") as channel, \
            MqttTestLamp(mqtt_url, "MQ-1") as lamp, \
            rig.dispatcher({"mqtt": channel}) as dispatcher:
        command = await dispatcher.submit(target("MQ-1"), "set_dim", {"level": 60}, "alice", "market night")
        progress = await dispatcher.wait_for(command.id)
    assert progress.status == "confirmed"
    (delivery,) = await rig.store.deliveries(command.id)
    assert delivery.attempts == 1
    assert lamp.dim_level_pct == 60
    (received,) = lamp.received
    assert received["id"] == str(delivery.id)
    assert (received["action"], received["params"]) == ("set_dim", {"level_pct": 60})
    assert received["expires_at"].startswith(command.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))


async def test_no_ack_retries_then_expires(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-3")])
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-silent") as channel, \
            MqttTestLamp(mqtt_url, "MQ-3", "silent") as lamp, rig.dispatcher({"mqtt": channel}) as dispatcher:
        command = await dispatcher.submit(target("MQ-3"), "switch", {"on": False}, "bob", "", ttl_s=1.5)
        progress = await dispatcher.wait_for(command.id)
    (delivery,) = await rig.store.deliveries(command.id)
    assert progress.status == "expired"
    assert delivery.attempts >= 2 and len(lamp.received) == delivery.attempts
    assert {m["id"] for m in lamp.received} == {str(delivery.id)}  # every attempt carries the same id
    assert delivery.error is not None and "no acknowledgement within 0.4 s" in delivery.error


async def test_refusal_is_final(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-4")])
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-refuse") as channel, \
            MqttTestLamp(mqtt_url, "MQ-4", "refuse") as lamp, rig.dispatcher({"mqtt": channel}) as dispatcher:
        command = await dispatcher.submit(target("MQ-4"), "set_dim", {"level_pct": 10}, "bob", "")
        progress = await dispatcher.wait_for(command.id)
    (delivery,) = await rig.store.deliveries(command.id)
    assert (progress.status, delivery.attempts, len(lamp.received)) == ("failed", 1, 1)
    assert delivery.error == "the device refused: local override: dimming locked"


async def test_late_ack_of_the_first_attempt_confirms(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-5")])
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-late") as channel, \
            MqttTestLamp(mqtt_url, "MQ-5", "late", late_s=0.6) as lamp, \
            rig.dispatcher({"mqtt": channel}) as dispatcher:
        command = await dispatcher.submit(target("MQ-5"), "set_dim", {"level_pct": 25}, "bob", "")
        progress = await dispatcher.wait_for(command.id)
    (delivery,) = await rig.store.deliveries(command.id)
    assert progress.status == "confirmed"
    assert delivery.attempts == 2 and len(lamp.received) == 2
    assert lamp.dim_level_pct == 25


async def test_offline_then_back_gets_only_the_latest(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-6")])
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-offline") as channel, \
            rig.dispatcher({"mqtt": channel}) as dispatcher:
        dispatcher.on_device_offline("MQ-6")
        older = await dispatcher.submit(target("MQ-6"), "set_dim", {"level_pct": 100}, "scheduler", "sunset")
        newer = await dispatcher.submit(target("MQ-6"), "set_dim", {"level_pct": 50}, "scheduler", "23:00")
        await asyncio.sleep(0.2)
        async with MqttTestLamp(mqtt_url, "MQ-6") as lamp:
            dispatcher.on_device_online("MQ-6")
            progress = await dispatcher.wait_for(newer.id)
    assert progress.status == "confirmed"
    assert (await rig.store.progress(older.id)).status == "superseded"
    assert [m["params"] for m in lamp.received] == [{"level_pct": 50}]


async def test_bad_and_stray_acks_are_counted_not_fatal(rig: Rig, mqtt_url: str) -> None:
    await rig.add([mqtt_lamp("MQ-7")])
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-stray") as channel, \
            MqttTestLamp(mqtt_url, "MQ-7") as lamp, rig.dispatcher({"mqtt": channel}) as dispatcher, \
            MqttTransport.from_url(mqtt_url).client("t-stray-pub") as client:
        await client.publish(topics.command_ack("MQ-7"), b"{not json", qos=1)
        await client.publish(topics.command_ack("MQ-7"), json.dumps({"id": "99999", "ok": True}), qos=1)
        command = await dispatcher.submit(target("MQ-7"), "flash", {}, "duty", "")
        progress = await dispatcher.wait_for(command.id)
    assert progress.status == "confirmed" and lamp.received[0]["params"] == {"on": True}
    assert channel.acks.unreadable == 1 and channel.acks.unmatched == 1


async def test_broker_unreachable_is_a_retry_not_a_crash(rig: Rig) -> None:
    await rig.add([mqtt_lamp("MQ-8")])
    nowhere = MqttTransport.from_url(f"mqtt://127.0.0.1:{free_port()}")
    async with MqttChannel(nowhere, client_id="t-nobroker", connect_timeout_s=0.2) as channel, \
            rig.dispatcher({"mqtt": channel}) as dispatcher:
        command = await dispatcher.submit(target("MQ-8"), "set_dim", {"level_pct": 5}, "bob", "", ttl_s=0.6)
        progress = await dispatcher.wait_for(command.id)
    (delivery,) = await rig.store.deliveries(command.id)
    assert progress.status == "expired" and delivery.attempts >= 2
    assert delivery.status is DeliveryStatus.expired
    assert delivery.error is not None and "not connected to the MQTT broker" in delivery.error


async def test_every_command_kind_passes_the_documented_parser(mqtt_url: str) -> None:
    # The sender and docs/mqtt.md's contract agree: each action, with its parameters and expiry, is a
    # command that parse_command accepts, and the device's ack confirms it.
    from datetime import UTC, datetime, timedelta

    from control.channel import DeliveryJob
    from control.model import PARAMS_MODEL, Action, validate_params
    from device_registry.library import ProfileLibrary
    from tests.control.conftest import mqtt_lamp

    examples = {Action.set_dim: {"level": 40}, Action.switch: {"on": False}, Action.flash: {},
                Action.sync_clock: {}, Action.set_schedule: {"schedule": "night"}, Action.clear_schedule: {}}
    assert set(examples) == set(Action) == set(PARAMS_MODEL)  # a new action needs its example here
    profile = ProfileLibrary.shipped().get("sw-lamp-controller")
    expires = datetime.now(UTC) + timedelta(minutes=15)
    async with MqttChannel(MqttTransport.from_url(mqtt_url), client_id="t-contract") as channel, \
            MqttTestLamp(mqtt_url, "MQ-C") as lamp:
        await channel.wait_connected(5)
        for number, (action, params) in enumerate(examples.items(), 1):
            job = DeliveryJob(number, mqtt_lamp("MQ-C"), profile, action, validate_params(action, params), 1, 5.0,
                              expires)
            await channel.deliver(job)  # DeliveryRejected if the device's parser refused it
    assert lamp.contract_errors == []
    assert [c["action"] for c in lamp.received] == [a.value for a in examples]
    assert {c["expires_at"] for c in lamp.received} == {expires.isoformat().replace("+00:00", "Z")}
