"""A small city for the console's browser tests, on a real database, served by a real ``streetwatch serve``.

Areas ``baiyun`` ⊃ ``jingtai`` (lamps of group ``riverside``) and ``tianhe`` ⊃ ``jingxi`` (gauges).
Users: ``li.wei`` (operator and duty officer of the city), ``zhang.min`` (operator and duty officer, the second person),
``wang.fang`` (viewer).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx

from benchmarks.api_server import serving
from device_registry import Registry
from device_registry.importer import read_csv
from people import People
from simulators.mqtt_lamp import MqttLamp
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, open_database

T = TypeVar("T")
PASSWORD = "a long enough password"
USERS = {"li.wei": (("operator", "root"), ("duty_officer", "root")),
         "zhang.min": (("operator", "root"), ("duty_officer", "root")),
         "wang.fang": (("viewer", "root"),)}
HEADER = "id,kind,profile,transport,host,port,unit,client_id,lat,lon,area,groups,site,thresholds"
# A gauge's own levels (the registry's thresholds), below the culvert rule's defaults.
GAUGE_LEVELS = {"yellow": 300.0, "orange": 450.0, "red": 650.0}


def lamp_rows(count: int, area: str, group: str, *, prefix: str = "LP", lat: float = 23.16, lon: float = 113.26,
              spread: float = 0.05, mqtt: bool = False) -> list[str]:
    """Lamp controllers on Modbus TCP (one address per lamp: 240 units behind each port), or with ``mqtt``
    controllers that speak MQTT (profile sw-lamp-controller-mqtt), as the simulated lamps do."""
    side = max(1, int(count ** 0.5))

    def reached(i: int) -> str:
        if mqtt:
            return f"sw-lamp-controller-mqtt,mqtt,,,,{prefix.lower()}-{i:06d}"
        return f"sw-lamp-controller,modbus-tcp,127.0.0.1,{1502 + i // 240},{1 + i % 240},"

    return [f"{prefix}-{i:06d},lamp_controller,{reached(i)},"
            f"{lat + spread * (i // side) / side:.6f},{lon + spread * (i % side) / side:.6f},{area},{group},"
            f"{area}-street," for i in range(count)]


def gauge_rows(count: int, area: str) -> list[str]:
    levels = ";".join(f"water_level_mm.{level}={value:g}" for level, value in GAUGE_LEVELS.items())
    return [f"CG-{i:04d},culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,,cg-{i:04d},{23.10 + 0.004 * i:.6f},"
            f"{113.33 + 0.003 * i:.6f},{area},,{area}-culverts,{levels}" for i in range(count)]


@dataclass
class City:
    url: str
    database_url: str
    lamps: int
    gauges: int
    mqtt_url: str = ""
    street: Mapping[str, MqttLamp] = field(default_factory=dict)  # the simulated lamps, by id

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        async def go() -> T:
            async with open_database(DatabaseUrl.parse(self.database_url)) as db:
                return await work(db)
        return in_thread(go)


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work()`` on an event loop in a thread of its own: Playwright's synchronous API keeps one running in
    the test's thread."""
    async def go() -> T:
        return await work()
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
def running(command: list[str], env: dict[str, str], log_path: Path, ready: Callable[[], bool],
            what: str) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` as a subprocess logging to ``log_path``, once ``ready()``; stopped (SIGTERM, then SIGKILL) after."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=log_path.parent)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if ready():
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serve(database_url: str, log_path: str, **settings: str) -> Iterator[str]:
    """``streetwatch serve`` as a subprocess on a free loopback port; its base URL while it runs."""
    with serving(database_url, log_path=log_path, **{"STREETWATCH_API__REQUESTS_PER_MINUTE": "100000",
                                                     "STREETWATCH_API__EVENTS_POLL_S": "0.2", **settings}) as (url, _):
        yield url


def since(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
