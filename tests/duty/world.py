"""A small city for duty tests: district → street → community, their duty officers and heads, a culvert
gauge in the community, rotas and a red escalation policy."""

from __future__ import annotations

from datetime import UTC, datetime

from device_registry import Device, Registry
from duty.files import parse_duty_text
from duty.roster import Roster
from people import Areas, Users
from rules.alert_store import AlertStore
from streetwatch.database import Database

START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Guangzhou
DUTY_FILE = """\
rotas:
  - area: xinshi
    shifts:
      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "20:00", person: chen}
      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "20:00", end: "08:00", person: zhou}
  - area: jingtai
    shifts: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "00:00", person: li}]
  - area: baiyun
    shifts: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "00:00", person: wang}]
policies:
  - severity: red
    repeat: false
    steps:
      - {notify: on_duty, up: 0, wait: 2m, channels: [sms, email]}
      - {notify: on_duty, up: 1, wait: 2m, channels: [sms, email]}
      - {notify: on_duty, up: 2, wait: 2m, channels: [sms, email]}
      - {notify: head, up: 2, wait: 2m, channels: [sms]}
"""
PEOPLE = {"chen": "13800000001", "zhou": "13800000002", "li": "13800000003", "wang": "13800000004",
          "zhao": "13800000005"}
GAUGE = Device.model_validate({
    "id": "CUL-7", "kind": "culvert_gauge", "profile": "sw-culvert-gauge-mqtt", "address": {"transport": "mqtt"},
    "location": {"latitude": 23.16, "longitude": 113.27, "landmark": "京泰路下穿涵洞"}, "area": "xinshi",
    "groups": ["hazard-jingtai"], "status": "active"})


async def build(roster: Roster, registry: Registry) -> None:
    areas, users = Areas(roster.db), Users(roster.db)
    await areas.add("baiyun", "白云区", level="district")
    await areas.add("jingtai", "京泰街道", parent="baiyun", level="street")
    await areas.add("xinshi", "新市社区", parent="jingtai", level="community")
    for name, mobile in PEOPLE.items():
        await users.add(name, "a long enough password", now=START)
        await roster.contacts.add(name, "sms", mobile)
        await roster.contacts.add(name, "email", f"{name}@baiyun.example", language="en" if name == "li" else "zh")
    await roster.responsibility.assign("area", "baiyun", "zhao", "head")
    await registry.add(GAUGE, by="test")


async def city(db: Database, duty_text: str = DUTY_FILE) -> tuple[Roster, Registry, AlertStore]:
    """The city above in ``db`` (migrated), with the duty files ``duty_text``."""
    roster = Roster(db, parse_duty_text(duty_text, ".yaml", "d.yaml"), "Asia/Shanghai")
    await roster.migrate()
    registry, alerts = Registry(db), AlertStore(db)
    await registry.migrate()
    await alerts.migrate()
    await build(roster, registry)
    return roster, registry, alerts
