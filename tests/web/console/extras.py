"""More of the city for the console's feature tests: river sections with probes and two days of readings,
a flood hazard point with its gauge and lamp group, and two more users.

Sections: ``SEC-A`` (Shijing River, in jingxi, target III) is class IV today (ammonia 1.2 mg/L) and was III
yesterday (0.8); ``SEC-B`` (Shijing River, in jingtai, target II) is II today (0.3) and was IV yesterday (1.2).
Hazard point ``XJ-UP`` (jingxi): gauge ``CG-H1`` at 262 mm (orange), lamp group ``hazard-xijing`` of six lamps.
Users: ``zhao.lei`` (operator and duty officer of the city), ``chen.jie`` (viewer of jingtai only).
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from device_registry import Registry
from device_registry.importer import read_csv
from hydrology import Section, SectionStore, WaterClass
from hydrology.hazards import HazardPoint, HazardStore
from people import People
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database
from streetwatch.readings import Reading
from telemetry_store import open_store
from tests.web.console.city import PASSWORD, City

ZONE = ZoneInfo("Asia/Shanghai")
AMMONIA = "ammonia_nitrogen_mg_l"
PROBES = {"WQ-A1": ("SEC-A", "jingxi", 23.105, 113.36), "WQ-B1": ("SEC-B", "jingtai", 23.20, 113.30)}
AMMONIA_TODAY = {"SEC-A": 1.2, "SEC-B": 0.3}
AMMONIA_YESTERDAY = {"SEC-A": 0.8, "SEC-B": 1.2}
HAZARD_CENTRE = (23.125, 113.35)  # lat, lon
HAZARD_LAMPS = [f"LH-{i:04d}" for i in range(6)]


def hazard_lamp_position(i: int) -> tuple[float, float]:
    """(lat, lon) of the i-th hazard lamp: on a ring of about 150 m round the gauge."""
    angle = 2 * math.pi * i / len(HAZARD_LAMPS)
    return HAZARD_CENTRE[0] + 0.0015 * math.sin(angle), HAZARD_CENTRE[1] + 0.0015 * math.cos(angle)


def _rows() -> str:
    header = "id,kind,profile,transport,client_id,host,port,unit,lat,lon,area,groups,site,tags"
    rows = [f"{probe},water_quality_probe,sw-water-quality-probe-mqtt,mqtt,{probe.lower()},,,,{lat},{lon},{area},,"
            f"{area}-river,section={section}" for probe, (section, area, lat, lon) in PROBES.items()]
    rows.append(f"CG-H1,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,cg-h1,,,,{HAZARD_CENTRE[0]},{HAZARD_CENTRE[1]},jingxi,"
                "hazard-xijing,jingxi-culverts,hazard=XJ-UP")
    for i, lamp in enumerate(HAZARD_LAMPS):
        lat, lon = hazard_lamp_position(i)
        rows.append(f"{lamp},lamp_controller,sw-lamp-controller,modbus-tcp,,127.0.0.1,1600,{i + 1},{lat:.6f},"
                    f"{lon:.6f},jingxi,hazard-xijing,jingxi-street,")
    return "\n".join([header, *rows])


def reading_times(now: datetime) -> tuple[datetime, datetime]:
    """A moment of today (local) before now, and one of yesterday."""
    midnight = datetime.combine(now.astimezone(ZONE).date(), time(), tzinfo=ZONE)
    return now - min(timedelta(minutes=30), (now - midnight) / 2), midnight - timedelta(hours=2)


async def seed_extras(db: Database, database_url: str, now: datetime) -> None:
    people = People(db)
    for user, grants in {"zhao.lei": (("operator", "root"), ("duty_officer", "root")),
                         "chen.jie": (("viewer", "jingtai"),)}.items():
        await people.users.add(user, PASSWORD, now=now)
        for role, area in grants:
            await people.grants.grant(user, role, area, by="seed", now=now)
    await Registry(db).import_devices(read_csv(_rows()), by="seed")
    async with SectionStore.open(db) as sections:
        await sections.add(Section("SEC-A", "Shijing bridge", "Shijing River", "jingxi", "river", WaterClass.III),
                           now=now)
        await sections.add(Section("SEC-B", "Jingtai weir", "Shijing River", "jingtai", "river", WaterClass.II),
                           now=now)
    await HazardStore(db).add(HazardPoint("XJ-UP", "Xijing underpass", "underpass", 3.2, 300.0,
                                          {"yellow": 150.0, "orange": 250.0, "red": 400.0}), now=now)
    today, yesterday = reading_times(now)
    readings = [Reading("CG-H1", "water_level_mm", today, 262.0)]
    for probe, (section, *_) in PROBES.items():
        readings += [Reading(probe, AMMONIA, today, AMMONIA_TODAY[section]),
                     Reading(probe, AMMONIA, yesterday, AMMONIA_YESTERDAY[section])]
    async with open_store(DatabaseUrl.parse(database_url)) as store:
        await store.write(readings)
    # An entry about LP-000003 recorded in another area than the lamp's: only the city's users see it.
    await people.audit.record(actor="seed", role="admin", area="jingxi", address="cli", action="seed.elsewhere",
                              target="LP-000003", result="ok", now=now)


_sequence = itertools.count(1)


def raise_red(city: City, device: str) -> int:
    """A red water-level alert, stored as the gateway's rules engine stores it (for tests about what follows)."""
    async def work(db: Database) -> int:
        change = await AlertStore(db).apply(AlertTransition(
            next(_sequence), AlertEvent.raised, f"culvert-level-{next(_sequence)}", device, "red", None,
            datetime.now(UTC), device_kind="culvert_gauge", metric="water_level_mm", value=712.0, threshold=650.0,
            message="water level 712 mm above red 650 mm"))
        assert change is not None
        return change.alert.id
    return city.run(work)
