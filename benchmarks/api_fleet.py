"""The city ``streetwatch bench api`` serves: one district, its streets of about 2,000 devices, their communities.

Every street has ``COMMUNITIES_PER_STREET`` communities; its devices are spread over them, four lamp
controllers (Modbus TCP) to one culvert gauge (MQTT), each with its position on a grid. Every device has a
latest value; one gauge per street has a day of water levels every 10 s, with the one-minute and one-hour
rollups built as the gateway builds them. The API is asked with the token of a duty officer of the district.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from device_registry import Registry
from device_registry.importer import read_csv
from people import People
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from streetwatch.readings import Reading
from telemetry_store import open_store

DEVICES_PER_STREET = 2_000
COMMUNITIES_PER_STREET = 5
DISTRICT = "bench-district"
HISTORY_STEP = timedelta(seconds=10)
HISTORY = timedelta(days=1)
_HEADER = "id,kind,profile,transport,host,port,unit,client_id,lat,lon,area,groups,site"
_CSV_CHUNK = 20_000
_WRITE_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Fleet:
    """What was registered: how many devices, the streets (first one measured), the gauges with a day of history."""

    devices: int
    streets: tuple[str, ...]
    history_gauges: tuple[str, ...]
    token: str
    now: datetime

    @property
    def street(self) -> str:
        return self.streets[0]

    @property
    def gauge(self) -> str:
        return self.history_gauges[0]


def street_of(n: int) -> tuple[str, str]:
    """(street, community) of the n-th device."""
    street = n // DEVICES_PER_STREET
    community = (n % DEVICES_PER_STREET) * COMMUNITIES_PER_STREET // DEVICES_PER_STREET
    return f"street-{street:03d}", f"street-{street:03d}-c{community}"


def device_rows(devices: int) -> list[str]:
    """CSV rows: lamps and gauges (every fifth device) on a grid over the district, in their communities."""
    side = max(1, math.isqrt(devices))
    rows = []
    for n in range(devices):
        street, community = street_of(n)
        lat, lon = 23.05 + 0.2 * (n // side) / side, 113.15 + 0.2 * (n % side) / side
        if n % 5 == 4:
            rows.append(f"CG-{n:06d},culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,,cg-{n:06d},{lat:.6f},{lon:.6f},"
                        f"{community},{street}-culverts,{street}")
        else:
            rows.append(f"LP-{n:06d},lamp_controller,sw-lamp-controller,modbus-tcp,127.0.0.1,{1502 + n // 240},"
                        f"{1 + n % 240},,{lat:.6f},{lon:.6f},{community},{street}-lamps,{street}")
    return rows


def _latest(device_id: str, at: datetime) -> list[Reading]:
    if device_id.startswith("CG-"):
        return [Reading(device_id, "water_level_mm", at, 120.0), Reading(device_id, "battery_v", at, 3.6)]
    return [Reading(device_id, "power_w", at, 86.0), Reading(device_id, "dim_level_pct", at, 100.0),
            Reading(device_id, "relay_on", at, 1.0)]


def _day_of_levels(device_id: str, now: datetime) -> list[Reading]:
    steps = int(HISTORY / HISTORY_STEP)
    start = now - HISTORY
    return [Reading(device_id, "water_level_mm", start + i * HISTORY_STEP, 120.0 + 80.0 * math.sin(i / 400))
            for i in range(steps)]


async def register(database_url: str, devices: int, password: str) -> Fleet:
    """Areas, devices, readings and a duty officer's token in an empty database."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)  # 24 h from here are 1,440 whole minutes
    url = DatabaseUrl.parse(database_url)
    rows = device_rows(devices)
    streets = tuple(dict.fromkeys(street_of(n)[0] for n in range(devices)))
    async with open_database(url) as db:
        people = People(db)
        await people.migrate()
        await people.areas.add(DISTRICT, "Bench district", parent="root", level="district")
        for street in streets:
            await people.areas.add(street, street.title(), parent=DISTRICT, level="street")
            for community in range(COMMUNITIES_PER_STREET):
                await people.areas.add(f"{street}-c{community}", f"{street} community {community}", parent=street,
                                       level="community")
        await people.users.add("bench.duty", password, now=now)
        await people.grants.grant("bench.duty", "duty_officer", DISTRICT, by="bench", now=now)
        issued = await people.issue_token("bench.duty", "duty_officer", DISTRICT, lifetime=timedelta(days=1), now=now)
        registry = Registry(db)
        await registry.migrate()
        for start in range(0, len(rows), _CSV_CHUNK):
            await registry.import_devices(read_csv("\n".join([_HEADER, *rows[start:start + _CSV_CHUNK]])), by="bench")
    ids = [row.split(",", 1)[0] for row in rows]
    history_gauges = tuple(next(d for d in ids if d.startswith("CG-") and street_of(int(d[3:]))[0] == street)
                           for street in streets)
    async with open_store(url) as store:
        latest = [reading for device_id in ids for reading in _latest(device_id, now - timedelta(seconds=30))]
        for start in range(0, len(latest), _WRITE_CHUNK):
            await store.write(latest[start:start + _WRITE_CHUNK])
        for gauge in history_gauges:
            await store.write(_day_of_levels(gauge, now))
        await store.refresh_rollups(now)
    return Fleet(devices, streets, history_gauges, issued.secret, now)
