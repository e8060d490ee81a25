"""End to end: a rule's ``dispatch_task`` action in a running gateway. A culvert reading over MQTT raises a red
alert; the task order goes to the person responsible for the hazard point, once; a restart of the gateway
and more readings of the same alert dispatch nothing more; ``streetwatch task list`` shows it; the crew accepts
it and is done, and ``streetwatch report duty`` counts it."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from device_drivers.mqtt import encode_telemetry
from duty.contacts import Responsibility
from duty.tasks import Task, Tasks
from gateway.cli import main
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.composition.services import composed_services
from people import Users
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.test_gateway_duty import RULE, _seed, _settings
from tests.duty.world import START
from tests.fixtures.receivers import SmtpServer, http_receiver
from tests.gateway.conftest import eventually, publisher

pytestmark = pytest.mark.services
ACTION = """    actions:
      - {at: red, action: dispatch_task, params: {type: close_underpass, title: 封闭下穿通道}}
"""


async def _tasks(database_url: str) -> list[Task]:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        return await Tasks(db).list()


async def test_a_red_reading_dispatches_one_task_order_to_the_hazard_points_crew_across_a_restart(
        tmp_path: Path, fresh_pg_url: str, mqtt_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    await _seed(fresh_pg_url)
    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        await Users(db).add("pump-crew-3", "a long enough password", now=START)
        await Responsibility(db).assign("group", "hazard-jingtai", "pump-crew-3")
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms:
        settings = _settings(tmp_path, fresh_pg_url, mqtt_url, smtp, sms)
        assert settings.rules_dir is not None
        (settings.rules_dir / "culverts.yaml").write_text(RULE + ACTION, encoding="utf-8")
        for run in range(2):
            gateway = Gateway(settings, services=composed_services(settings), options=RunOptions(modbus=False))
            async with running(gateway), publisher(mqtt_url) as device:
                await eventually(lambda g=gateway: g.ingest is not None and g.ingest.connected,  # type: ignore[misc]
                                 what="MQTT session")
                for level in (850, 900):  # the same red alert: no new transition to red
                    await device.publish(topics.telemetry("CUL-7"), encode_telemetry(
                        {"water_level_mm": level, "battery_v": 3.7}, datetime.now(UTC)), qos=1)
                if run == 0:
                    async def dispatched() -> bool:
                        return len(await _tasks(fresh_pg_url)) >= 1
                    await eventually(dispatched, timeout_s=10, what="the task order")
                await asyncio.sleep(2)  # ticks of the duty service (tick_s 0.2) after the readings
    (task,) = await _tasks(fresh_pg_url)
    assert (task.kind, task.title, task.assignee, task.area, task.created_by) == (
        "close_underpass", "封闭下穿通道 · 京泰路下穿涵洞", "pump-crew-3", "xinshi", "rule:culvert-water-level")
    assert task.alert_id is not None
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", fresh_pg_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert await asyncio.to_thread(main, ["task", "list", "--format", "csv"]) == 0  # the CLI runs its own loop
    out = capsys.readouterr().out
    assert out.count("close_underpass") == 1 and "pump-crew-3" in out and "dispatched" in out
    # the crew accepts it, is on site, and is done; the month's duty report counts it, with the alert's times
    for step in ("accept", "onsite", "done"):
        assert await asyncio.to_thread(main, ["task", step, str(task.id), "--by", "pump-crew-3"]) == 0
    capsys.readouterr()
    month = task.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    assert await asyncio.to_thread(main, ["report", "duty", "--area", "baiyun", "--month", month,
                                          "--format", "json"]) == 0
    report = {row["what"]: row["value"] for row in json.loads(capsys.readouterr().out)}
    assert report["tasks done"] == 1 and report["alerts red"] == 1 and report["unacknowledged"] == 1
