"""End to end, a rota edge in a running gateway: a hand-over at a full minute soon (Asia/Shanghai); a culvert's
alert before it reaches the outgoing officer, another gauge's alert one second after it reaches the incoming
one."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from device_drivers.mqtt import encode_telemetry
from device_registry import Registry
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import composed_services
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.test_gateway_duty import _seed, _settings, _sms_to
from tests.duty.world import GAUGE
from tests.fixtures.receivers import SmtpServer, http_receiver
from tests.gateway.conftest import eventually, publisher

pytestmark = pytest.mark.services
ROTA = """\
rotas:
  - area: xinshi
    shifts:
      - {{days: [mon, tue, wed, thu, fri, sat, sun], start: "{before}", end: "{at}", person: zhou}}
      - {{days: [mon, tue, wed, thu, fri, sat, sun], start: "{at}", end: "{before}", person: chen}}
policies:
  - severity: red
    repeat: false
    steps: [{{notify: on_duty, up: 0, wait: 10m, channels: [sms]}}]
"""


async def _at(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def test_an_alert_one_second_after_the_hand_over_reaches_the_incoming_officer(
        tmp_path: Path, fresh_pg_url: str, mqtt_url: str, smtp: SmtpServer) -> None:
    await _seed(fresh_pg_url)
    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        await Registry(db).add(GAUGE.model_copy(update={"id": "CUL-8"}), by="test")
    zone = ZoneInfo("Asia/Shanghai")
    # a full minute 25 to 85 s away: time for the gateway to start before it
    hand_over = (datetime.now(UTC) + timedelta(seconds=85)).replace(second=0, microsecond=0)
    local = hand_over.astimezone(zone)
    rota = ROTA.format(at=local.strftime("%H:%M"), before=(local - timedelta(hours=12)).strftime("%H:%M"))
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms:
        settings = _settings(tmp_path, fresh_pg_url, mqtt_url, smtp, sms)
        assert settings.duty.duty_dir is not None
        (settings.duty.duty_dir / "duty.yaml").write_text(rota, encoding="utf-8")
        gateway = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
        async with running(gateway), publisher(mqtt_url) as device:
            await eventually(lambda: gateway.ingest is not None and gateway.ingest.connected, what="MQTT session")
            assert datetime.now(UTC) < hand_over - timedelta(seconds=10), "the gateway started too slowly"
            # 10 s before (a first step runs as soon as the alert is stored: a loaded machine's delay must not
            # carry it over the edge), and one second after
            for gauge, moment in (("CUL-7", hand_over - timedelta(seconds=10)),
                                  ("CUL-8", hand_over + timedelta(seconds=1))):
                await _at(moment)
                sent = time.monotonic()
                await device.publish(topics.telemetry(gauge), encode_telemetry(
                    {"water_level_mm": 850, "battery_v": 3.7}, datetime.now(UTC)), qos=1)
                count = 1 if gauge == "CUL-7" else 2
                await eventually(lambda n=count: len(sms.requests) >= n, timeout_s=5,  # type: ignore[misc]
                                 what=f"the SMS of {gauge}'s alert")
                assert time.monotonic() - sent < 5
    assert _sms_to(sms) == ["+8613800000002", "+8613800000001"]  # zhou until the hand-over, chen after it
