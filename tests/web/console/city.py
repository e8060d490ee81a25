"""A small city for the console's browser tests, on a real database, served by a real ``streetwatch serve``.

Areas ``baiyun`` ⊃ ``jingtai`` (lamps of group ``riverside``) and ``tianhe`` ⊃ ``jingxi`` (gauges).
Users: ``li.wei`` (operator and duty officer of the city), ``zhang.min`` (operator and duty officer, the second person),
``wang.fang`` (viewer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from benchmarks.api_server import serving
from device_registry import Registry
from device_registry.importer import read_csv
from people import People
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, open_database

T = TypeVar("T")
PASSWORD = "a long enough password"
USERS = {"li.wei": (("operator", "root"), ("duty_officer", "root")),
         "zhang.min": (("operator", "root"), ("duty_officer", "root")),
         "wang.fang": (("viewer", "root"),)}
HEADER = "id,kind,profile,transport,host,port,unit,client_id,lat,lon,area,groups,site"


def lamp_rows(count: int, area: str, group: str, *, prefix: str = "LP", lat: float = 23.16, lon: float = 113.26,
              spread: float = 0.05) -> list[str]:
    side = max(1, int(count ** 0.5))
    # One Modbus address per lamp: 240 units behind each port.
    return [f"{prefix}-{i:06d},lamp_controller,sw-lamp-controller,modbus-tcp,127.0.0.1,{1502 + i // 240},"
            f"{1 + i % 240},,"
            f"{lat + spread * (i // side) / side:.6f},{lon + spread * (i % side) / side:.6f},{area},{group},"
            f"{area}-street" for i in range(count)]


def gauge_rows(count: int, area: str) -> list[str]:
    return [f"CG-{i:04d},culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,,cg-{i:04d},{23.10 + 0.004 * i:.6f},"
            f"{113.33 + 0.003 * i:.6f},{area},,{area}-culverts" for i in range(count)]


@dataclass
class City:
    url: str
    database_url: str
    lamps: int
    gauges: int

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        async def go() -> T:
            async with open_database(DatabaseUrl.parse(self.database_url)) as db:
                return await work(db)
        # In a thread of its own: Playwright's synchronous API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, go()).result()


async def seed(db: Database, rows: list[str]) -> None:
    now = datetime.now(UTC)
    people = People(db)
    await people.migrate()
    for area, parent, level, zone in (("baiyun", "root", "district", "Asia/Shanghai"),
                                      ("jingtai", "baiyun", "street", "Asia/Shanghai"),
                                      ("tianhe", "root", "district", "Asia/Shanghai"),
                                      ("jingxi", "tianhe", "street", "Asia/Shanghai")):
        await people.areas.add(area, area.title(), parent=parent, level=level, timezone=zone)
    for user, grants in USERS.items():
        await people.users.add(user, PASSWORD, now=now)
        for role, area in grants:
            await people.grants.grant(user, role, area, by="seed", now=now)
    registry = Registry(db)
    await registry.migrate()
    for start in range(0, len(rows), 20_000):
        await registry.import_devices(read_csv("\n".join([HEADER, *rows[start:start + 20_000]])), by="seed")


@contextmanager
def serve(database_url: str, log_path: str, **settings: str) -> Iterator[str]:
    """``streetwatch serve`` as a subprocess on a free loopback port; its base URL while it runs."""
    with serving(database_url, log_path=log_path, **{"STREETWATCH_API__REQUESTS_PER_MINUTE": "100000",
                                                     "STREETWATCH_API__EVENTS_POLL_S": "0.2", **settings}) as (url, _):
        yield url


def since(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
