"""Alert notifications through a real Mosquitto: stored, published once, acknowledgements, reminders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from rules.alert_store import AlertStore
from rules.notifier import Notifier
from rules.service import AlertService
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, NotificationSettings
from streetwatch.database import open_database
from streetwatch.mqtt import MqttTransport
from tests.rules.mqtt_support import Subscriber
from tests.rules.support import START, transition

pytestmark = pytest.mark.services


@pytest.fixture
async def service(mqtt_url: str, tmp_path: Path) -> AsyncIterator[AlertService]:
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db:
        store = AlertStore(db)
        await store.migrate()
        transport = MqttTransport.from_url(mqtt_url)
        async with Notifier(NotificationSettings(), transport, client_id="test-alerts") as notifier:
            yield AlertService(store, notifier, clock=FakeClock(START), reminder_interval_s=900)


async def test_a_raised_alert_is_published_once_on_its_topic(service: AlertService, mqtt_url: str) -> None:
    async with Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts:
        await service.apply(transition("raised", "red", device_id="CG-7"))
        topic, body = await alerts.next()
        assert topic == "streetwatch/alerts/red/CG-7"
        assert (body["event"], body["state"], body["rule"], body["device"], body["value"], body["threshold"]) == (
            "raised", "raised", "level", "CG-7", 812.0, 800.0)
        assert body["alert_id"] is not None and body["times"]["raised_at"] == START.isoformat()
        # the same transition again (an engine that lost its state) announces nothing
        await service.apply(transition("raised", "red", device_id="CG-7"))
        assert await service.sweep(START) == 0
        assert await alerts.nothing_more()


async def test_a_raise_right_after_a_clear_is_announced_as_a_reopen(service: AlertService, mqtt_url: str) -> None:
    async with Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts:
        for _ in range(3):
            await service.apply(transition("raised", "red", device_id="CG-5"))
            await service.apply(transition("cleared", "red", device_id="CG-5"))
        await service.apply(transition("raised", "red", device_id="CG-5"))
        events = [(await alerts.next())[1]["event"] for _ in range(7)]
        assert events == ["raised", "cleared", "reopened", "cleared", "reopened", "cleared", "reopened"]
        assert await service.sweep(START) == 0
        assert await alerts.nothing_more()


async def test_acknowledgement_from_elsewhere_goes_out_with_the_sweep(service: AlertService, mqtt_url: str) -> None:
    async with Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts:
        await service.apply(transition("raised", "orange"))
        _, raised = await alerts.next()
        await service.store.acknowledge(raised["alert_id"], "duty-officer-li", "crew on the way",
                                        START + timedelta(minutes=1))
        assert await service.sweep(START + timedelta(minutes=1)) == 1
        topic, acked = await alerts.next()
        assert topic == "streetwatch/alerts/orange/CG-1"
        assert (acked["event"], acked["state"], acked["acknowledged_by"], acked["note"]) == (
            "acknowledged", "acknowledged", "duty-officer-li", "crew on the way")
        assert await service.sweep(START + timedelta(minutes=2)) == 0  # told once


async def test_unacknowledged_red_alerts_are_repeated(service: AlertService, mqtt_url: str) -> None:
    async with Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts:
        await service.apply(transition("raised", "red"))
        await service.apply(transition("raised", "yellow", device_id="CG-2"))
        await alerts.next()
        await alerts.next()
        assert await service.sweep(START + timedelta(minutes=14)) == 0
        assert await service.sweep(START + timedelta(minutes=15)) == 1
        topic, reminder = await alerts.next()
        assert (topic, reminder["event"], reminder["state"]) == ("streetwatch/alerts/red/CG-1", "reminder", "raised")
        assert await service.sweep(START + timedelta(minutes=20)) == 0
        assert await service.sweep(START + timedelta(minutes=30)) == 1
        await alerts.next()
        await service.store.acknowledge(reminder["alert_id"], "li", None, START + timedelta(minutes=31))
        assert await service.sweep(START + timedelta(minutes=31)) == 1  # the acknowledgement itself
        assert (await alerts.next())[1]["event"] == "acknowledged"
        assert await service.sweep(START + timedelta(hours=2)) == 0  # acknowledged: no more reminders


async def test_while_the_broker_is_unreachable_alerts_are_stored_and_sent_later(tmp_path: Path,
                                                                                  mqtt_url: str) -> None:
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db:
        store = AlertStore(db)
        await store.migrate()
        nowhere = MqttTransport.from_url("mqtt://127.0.0.1:1")
        async with Notifier(NotificationSettings(), nowhere, client_id="nobody") as down:
            await AlertService(store, down, clock=FakeClock(START)).apply(transition("raised", "red"))
        (alert,) = await store.active_alerts()
        assert alert.notified_state is None
        async with Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts, \
                Notifier(NotificationSettings(), MqttTransport.from_url(mqtt_url)) as up:
            assert await AlertService(store, up, clock=FakeClock(START)).sweep(START) == 1
            topic, body = await alerts.next()
            assert (topic, body["event"], body["alert_id"]) == ("streetwatch/alerts/red/CG-1", "raised", alert.id)
