"""``GET /water/report`` on a running gateway on TimescaleDB: the same rows as the CLI's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from benchmarks.servers import free_port
from device_registry import Device
from gateway.composition.runtime import Gateway, RunOptions, running
from hydrology import Section, SectionStore, WaterClass
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from streetwatch.readings import Reading
from telemetry_store import open_store
from tests.gateway.conftest import eventually, gateway_settings, http_get, mqtt_device, register

pytestmark = pytest.mark.services
ZONE = ZoneInfo("Asia/Shanghai")


async def test_the_report_from_the_api(fresh_pg_url: str, tmp_path: Path) -> None:
    probe: Device = mqtt_device("WQ-API-1", "sw-water-quality-probe-mqtt", "water_quality_probe")
    probe = probe.model_copy(update={"tags": {"section": "GZ-API-01"}})
    await register(fresh_pg_url, [probe], profiles=[])
    url = DatabaseUrl.parse(fresh_pg_url)
    async with open_database(url) as db, SectionStore.open(db) as sections:
        await sections.add(Section("GZ-API-01", "Api bridge", "Api River", "Baiyun", "river", WaterClass.III),
                           now=datetime.now(UTC))
    day = datetime(2026, 12, 5, tzinfo=ZONE)
    async with open_store(url) as store:
        await store.write([Reading("WQ-API-1", "total_phosphorus_mg_l", day + timedelta(hours=h), 0.25 + h / 1000)
                           for h in range(0, 24, 3)])
    api_port = free_port()
    settings = gateway_settings(tmp_path, fresh_pg_url, api_port=api_port)
    settings = settings.model_copy(update={"timezone": "Asia/Shanghai"})
    async with running(Gateway(settings, options=RunOptions(modbus=False, mqtt=False))) as gateway:
        await eventually(lambda: gateway.water is not None, what="the gateway composed")
        code, body = await http_get(f"http://127.0.0.1:{api_port}/water/report?date=2026-12-05&area=Baiyun")
        assert code == 200, body
        [row] = json.loads(body)
        # TP mean 0.2605 mg/L: class IV in a river, (0.2605 - 0.2) / 0.2 = 0.3025 times over class III.
        assert (row["section"], row["class"], row["target"], row["readings"]) == ("GZ-API-01", "IV", "III", 8)
        assert row["over_target"] == [{"metric": "total_phosphorus_mg_l", "value": pytest.approx(0.2605),
                                       "class": "IV", "limit": 0.2, "exceedance": pytest.approx(0.3025, abs=1e-3)}]
        code, body = await http_get(f"http://127.0.0.1:{api_port}/water/report?date=2026-12-05&area=Nowhere")
        assert (code, json.loads(body)) == (200, [])
        code, body = await http_get(f"http://127.0.0.1:{api_port}/water/report?date=5.12.2026")
        assert (code, json.loads(body)) == (400, {"detail": "date: '5.12.2026' is not a date (YYYY-MM-DD)"})
