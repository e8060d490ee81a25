"""End to end: a culvert reading over MQTT drives a red alert in a running gateway; the community's duty
officer gets the SMS request (HTTP SMS gateway) and the e-mail (a real aiosmtpd) within 5 s; nobody answers,
so after the shortened wait the street's officer, then the district's; the gateway restarts in the middle,
and the database is stopped while a step comes due;
an acknowledgement through the signed link (served by `streetwatch serve`) stops the chain before the head.
Nothing is lost and nothing is sent twice."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from benchmarks.servers import PostgresServer
from device_drivers.mqtt import encode_telemetry
from device_registry import Registry
from duty.files import parse_duty_text
from duty.roster import Roster
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import composed_services
from streetwatch import topics
from streetwatch.clock import SystemClock
from streetwatch.config import ApiSettings, DatabaseUrl, DutySettings, HttpGatewaySettings, Settings
from streetwatch.database import open_database
from tests.duty.world import DUTY_FILE, build
from tests.fixtures.receivers import HttpReceiver, SmtpServer, http_receiver
from tests.gateway.conftest import eventually, gateway_settings, publisher
from tests.web.world import serving

pytestmark = pytest.mark.services
RULE = """
rules:
  - name: culvert-water-level
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {yellow: 300, red: 800}
"""
WAIT_S = 4


async def _seed(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        roster = Roster(db, parse_duty_text(DUTY_FILE, ".yaml", "d.yaml"), "Asia/Shanghai")
        await roster.migrate()
        registry = Registry(db)
        await registry.migrate()
        await build(roster, registry)


def _settings(tmp_path: Path, database_url: str, mqtt_url: str, smtp: SmtpServer, sms: HttpReceiver) -> Settings:
    duty_dir = tmp_path / "duty"
    duty_dir.mkdir(exist_ok=True)
    (duty_dir / "duty.yaml").write_text(DUTY_FILE.replace("wait: 2m", f"wait: {WAIT_S}s"), encoding="utf-8")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "culverts.yaml").write_text(RULE, encoding="utf-8")
    return gateway_settings(tmp_path, database_url, mqtt_url).model_copy(update={
        "rules_dir": rules_dir,
        "duty": DutySettings(duty_dir=duty_dir, smtp_port=smtp.port, mail_from="alerts@sw.example.cn",
                             ack_secret=SecretStr("end-to-end acknowledgement key"), tick_s=0.2,
                             sms=HttpGatewaySettings(url=sms.url + "/send",
                                                     body='{"to": "{mobile}", "text": "{text}"}'),
                             retry_initial_s=0.2, retry_max_s=1.0)})


def _sms_to(sms: HttpReceiver) -> list[str]:
    return [r.json()["to"] for r in sms.requests]


async def test_red_alert_escalates_through_a_restart_until_acknowledged_by_link(
        tmp_path: Path, postgres_server: PostgresServer, fresh_pg_url: str, mqtt_url: str, smtp: SmtpServer) -> None:
    await _seed(fresh_pg_url)
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms:
        settings = _settings(tmp_path, fresh_pg_url, mqtt_url, smtp, sms)
        gateway = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
        async with running(gateway), publisher(mqtt_url) as device:
            await eventually(lambda: gateway.ingest is not None and gateway.ingest.connected, what="MQTT session")
            sent_at = time.monotonic()
            await device.publish(topics.telemetry("CUL-7"), encode_telemetry(
                {"water_level_mm": 850, "battery_v": 3.7}, datetime.now(UTC)), qos=1)
            await eventually(lambda: len(sms.requests) >= 1 and len(smtp.messages) >= 1, timeout_s=5,
                             what="SMS and e-mail to the community's duty officer within 5 s")
            first_after_s = time.monotonic() - sent_at
            community = _sms_to(sms)[0]
            assert community in ("+8613800000001", "+8613800000002")  # chen by day, zhou by night
            assert "【红色预警】京泰路下穿涵洞 水位850mm" in sms.requests[0].json()["text"]
        # the gateway stops mid-escalation, before the street's step is due, and starts again
        gateway = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
        async with running(gateway):
            await eventually(lambda: len(sms.requests) >= 2, timeout_s=WAIT_S + 10, what="the street's officer")
            assert _sms_to(sms)[1] == "+8613800000003"
            # the database goes away while the district's step comes due, and comes back
            postgres_server.stop()
            try:
                await asyncio.sleep(WAIT_S + 1)
                assert len(sms.requests) == 2
            finally:
                postgres_server.start()
            await eventually(lambda: len(sms.requests) >= 3, timeout_s=WAIT_S + 40, what="the district's officer")
            assert _sms_to(sms)[2] == "+8613800000004"
            link = sms.requests[2].json()["text"].rsplit("确认：", 1)[1]
            web = settings.model_copy(update={"api": ApiSettings(cookie_secure=False)})
            with serving(web, SystemClock()) as url:  # type: ignore[arg-type]
                async with httpx.AsyncClient() as client:
                    answer = await client.post(f"{url}/ack/{link.rsplit('/ack/', 1)[1]}")
            assert answer.status_code == 200, answer.text
            await eventually(lambda: _stopped(fresh_pg_url), what="the escalation stopped")
            await asyncio.sleep(WAIT_S + 2)  # past the head's step: nobody else is called
        assert _sms_to(sms) == [community, "+8613800000003", "+8613800000004"]
        assert sorted(m[0].rcpt_tos[0] for m in smtp.messages) == sorted(
            [f"{'chen' if community.endswith('1') else 'zhou'}@baiyun.example", "li@baiyun.example",
             "wang@baiyun.example"])
    assert first_after_s < 5


async def _stopped(database_url: str) -> bool:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        row = await db.fetch_one("SELECT stopped_by, acked_at FROM duty_escalations")
    return row is not None and row["stopped_by"] == "acknowledged by wang" and row["acked_at"] is not None


async def test_a_raised_alert_wakes_the_duty_service_at_once(
        tmp_path: Path, fresh_pg_url: str, mqtt_url: str, smtp: SmtpServer) -> None:
    await _seed(fresh_pg_url)
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms:
        settings = _settings(tmp_path, fresh_pg_url, mqtt_url, smtp, sms)
        # a tick a minute: only the rules service's announcement can bring the SMS within 5 s
        settings = settings.model_copy(update={"duty": settings.duty.model_copy(update={"tick_s": 60.0})})
        gateway = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
        async with running(gateway), publisher(mqtt_url) as device:
            await eventually(lambda: gateway.ingest is not None and gateway.ingest.connected, what="MQTT session")
            await asyncio.sleep(1.5)  # past the service's first tick
            await device.publish(topics.telemetry("CUL-7"), encode_telemetry(
                {"water_level_mm": 900, "battery_v": 3.7}, datetime.now(UTC)), qos=1)
            await eventually(lambda: len(sms.requests) >= 1, timeout_s=5, what="the SMS within 5 s")
