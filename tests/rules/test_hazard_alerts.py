"""Alerts of a gauge at a hazard point speak of the point, and a projected alert says when its level comes.

A real engine, alert service and alert store (SQLite and TimescaleDB): the stored alert, its message,
the MQTT/webhook payload and the duty notices (Chinese and English) all name the hazard point and
its landmark, and carry the projection with its uncertainty.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from duty.escalation import notice_of
from duty.templates import render
from rules.alert_store import AlertStore
from rules.alerts import HazardPlace
from rules.engine import RulesEngine
from rules.loader import parse_ruleset
from rules.payload import alert_payload
from rules.service import AlertService
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from streetwatch.readings import Reading
from tests.rules.support import START, device

pytestmark = pytest.mark.services

RULES = """
rules:
  - name: underpass-projected
    kind: projected
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {yellow: 300, orange: 500, red: 800}
    device_thresholds: false
    within: 15m
"""
PLACE = HazardPlace("XJH-UP", "Xujiahui underpass", "Zhaojiabang Rd at Tianyaoqiao Rd")
MESSAGE = re.compile(r"^Xujiahui underpass \(Zhaojiabang Rd at Tianyaoqiao Rd\): water_level_mm ([\d.]+) rising "
                     r"[\d.]+ per min: (\w+) level (\d+) in about ([\d.]+) min \(([\d.]+)–([\d.]+) min\)$")


async def _rise(database_url: str) -> tuple[AlertStore, list[object]]:
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        store = AlertStore(db)
        await store.migrate()
        service = AlertService(store, None, clock=clock)
        service.places = {"CG-1": PLACE}
        devices = {d.id: d for d in (device("CG-1"), device("CG-2"))}
        async with RulesEngine(service, clock=clock, rules=parse_ruleset(RULES), devices=devices) as engine:
            for step in range(31):  # 40 mm a minute from 200 mm, a reading every 10 s, both gauges
                clock.advance(seconds=10 if step else 0)
                for gauge in ("CG-1", "CG-2"):
                    await engine.on_reading(Reading(gauge, "water_level_mm", clock.now(), 200.0 + 40 * step / 6))
            await engine.flush()
        return store, list(await store.active_alerts())


async def test_a_projected_alert_names_its_hazard_point_everywhere(database_url: str) -> None:
    _, alerts = await _rise(database_url)
    by_device = {a.device_id: a for a in alerts}  # type: ignore[attr-defined]
    at_point, plain = by_device["CG-1"], by_device["CG-2"]
    assert at_point.hazard == PLACE and plain.hazard is None
    match = MESSAGE.match(at_point.message)
    assert match is not None, at_point.message
    now_mm, level_name, level, eta, earliest, latest = match.groups()
    assert (level_name, at_point.severity) == ("red", "red") and float(level) == at_point.threshold == 800
    assert float(earliest) <= float(eta) <= float(latest)
    true_eta_min = (800 - float(now_mm)) / 40  # the series rises 40 mm a minute
    assert float(eta) == pytest.approx(true_eta_min, rel=0.1)
    assert plain.message == at_point.message.removeprefix(f"{PLACE.title}: ")

    payload = alert_payload(at_point, at_point.state)  # type: ignore[arg-type]
    assert payload["hazard_point"] == {"id": "XJH-UP", "name": "Xujiahui underpass",
                                       "landmark": "Zhaojiabang Rd at Tianyaoqiao Rd"}
    projection = payload["projection"]
    assert projection["level"] == 800 and projection["earliest_s"] <= projection["eta_s"] <= projection["latest_s"]
    assert projection["eta_s"] / 60 == pytest.approx(float(eta), abs=0.05)
    assert alert_payload(plain, plain.state)["hazard_point"] is None  # type: ignore[arg-type]

    notice = notice_of(at_point, "https://sw.example.cn/ack/x")  # type: ignore[arg-type]
    zh, en = render(notice, "zh"), render(notice, "en")
    minutes = f"{projection['eta_s'] / 60:.0f}"
    span = f"{projection['earliest_s'] / 60:.0f}–{projection['latest_s'] / 60:.0f}"
    assert zh.subject == "【红色预警】Xujiahui underpass"
    assert "地点：Xujiahui underpass（Zhaojiabang Rd at Tianyaoqiao Rd, CG-1）" in zh.text
    assert f"预计约{minutes}分钟后达到800mm（{span}分钟）。" in zh.text
    assert "Place: Xujiahui underpass (Zhaojiabang Rd at Tianyaoqiao Rd, CG-1)" in en.text
    assert f"800 mm projected in about {minutes} min ({span} min)." in en.text
    assert en.sms.startswith("[RED alert] Xujiahui underpass water level") and "projected in about" in en.sms
    assert zh.sms.startswith("【红色预警】Xujiahui underpass") and zh.sms.endswith("确认：https://sw.example.cn/ack/x")
    assert render(notice_of(plain, "https://sw.example.cn/ack/x"), "en").subject == "[RED alert] CG-2 landmark"  # type: ignore[arg-type]


async def test_the_hazard_point_survives_a_restart_of_the_store(database_url: str) -> None:
    await _rise(database_url)
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        reread = {a.device_id: a for a in await AlertStore(db).active_alerts()}
    assert reread["CG-1"].hazard == PLACE and reread["CG-2"].hazard is None
    assert reread["CG-1"].raised_at <= START + timedelta(minutes=5)
