"""A database outage: the alert is announced from memory at once and stored, not announced again,
when the database is back."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.servers import PostgresServer
from rules.alert_store import AlertStore
from rules.engine import RulesEngine
from rules.loader import parse_ruleset
from rules.notifier import Notifier
from rules.service import AlertService
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, NotificationSettings
from streetwatch.database import open_database
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading
from tests.rules.mqtt_support import Subscriber
from tests.rules.support import START, device

pytestmark = pytest.mark.services
RULES = parse_ruleset("""
rules:
  - {name: level, kind: threshold, metric: water_level_mm, levels: {red: 800}}
""")


async def test_alert_is_announced_during_a_database_outage_and_stored_after(
        postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str) -> None:
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(fresh_pg_url), connect_timeout=5) as db, \
            Notifier(NotificationSettings(), MqttTransport.from_url(mqtt_url)) as notifier, \
            Subscriber(mqtt_url, "streetwatch/alerts/#") as alerts:
        store = AlertStore(db)
        await store.migrate()
        service = AlertService(store, notifier, clock=clock, announce_unstored_after_s=0.5)
        async with RulesEngine(service, clock=clock, rules=RULES, devices={"CG-1": device("CG-1")}) as engine:
            postgres_server.stop()
            try:
                await engine.on_reading(Reading("CG-1", "water_level_mm", clock.now(), 950))
                topic, body = await alerts.next(timeout_s=20)
                assert (topic, body["event"], body["alert_id"], body["value"]) == (
                    "streetwatch/alerts/red/CG-1", "raised", None, 950.0)
            finally:
                postgres_server.start()
            await asyncio.wait_for(engine.flush(), timeout=60)
        (alert,) = await store.active_alerts()
        assert (alert.rule, alert.severity, alert.value) == ("level", "red", 950.0)
        assert alert.notified  # marked as told: the sweep will not announce it again
        assert await service.sweep(clock.now()) == 0
        assert await alerts.nothing_more()
        assert engine.stats.sink_retries >= 1
