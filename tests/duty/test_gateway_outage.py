"""End to end: the gateway is stopped while the database is down, in the middle of an escalation, and starts
again once it is back. The step that came due meanwhile goes out once, the chain goes on, and an
acknowledgement stops it: every SMS and e-mail exactly once, none lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.servers import PostgresServer
from device_drivers.mqtt import encode_telemetry
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import composed_services
from rules.alert_store import AlertStore
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.test_gateway_duty import WAIT_S, _seed, _settings, _sms_to
from tests.fixtures.receivers import SmtpServer, http_receiver
from tests.gateway.conftest import eventually, publisher

pytestmark = pytest.mark.services


async def test_a_gateway_stopped_during_a_database_outage_mid_escalation_loses_and_doubles_nothing(
        tmp_path: Path, postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str, smtp: SmtpServer) -> None:
    await _seed(fresh_pg_url)
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms:
        settings = _settings(tmp_path, fresh_pg_url, mqtt_url, smtp, sms)
        first = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
        async with running(first), publisher(mqtt_url) as device:
            await eventually(lambda: first.ingest is not None and first.ingest.connected, what="MQTT session")
            await device.publish(topics.telemetry("CUL-7"), encode_telemetry(
                {"water_level_mm": 850, "battery_v": 3.7}, datetime.now(UTC)), qos=1)
            await eventually(lambda: len(sms.requests) >= 1 and len(smtp.messages) >= 1, timeout_s=5,
                             what="SMS and e-mail to the community's duty officer")
            community = _sms_to(sms)[0]
            # the database goes away; the street's step comes due; the gateway is stopped before it is back
            postgres_server.stop()
            await asyncio.sleep(WAIT_S + 1)
            assert len(sms.requests) == 1
        try:
            assert len(sms.requests) == 1
        finally:
            postgres_server.start()
        second = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
        async with running(second):
            await eventually(lambda: len(sms.requests) >= 2, timeout_s=20, what="the street's officer, once back")
            await eventually(lambda: len(sms.requests) >= 3, timeout_s=WAIT_S + 10, what="the district's officer")
            async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
                store = AlertStore(db)
                (alert,) = await store.active_alerts()
                await store.acknowledge(alert.id, "wang", "on my way", datetime.now(UTC))
            await asyncio.sleep(WAIT_S + 2)  # past the head's step: nobody else is called
    assert _sms_to(sms) == [community, "+8613800000003", "+8613800000004"]
    assert sorted(m[0].rcpt_tos[0] for m in smtp.messages) == sorted(
        [f"{'chen' if community.endswith('1') else 'zhou'}@baiyun.example", "li@baiyun.example",
         "wang@baiyun.example"])
