"""A live operator API on a real database, with areas, people, devices, alerts and commands to test against.

The city: ``baiyun`` (district) ⊃ ``jingtai`` (street), and ``tianhe`` (district) ⊃ ``jingxi`` (street).
Every role has a user granted that role in ``baiyun``; ``jingtai``'s objects are inside their areas,
``jingxi``'s outside. ``root-admin`` is admin of the whole city.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import uvicorn

from benchmarks.servers import free_port
from control import Action, CommandStore, CommandTarget
from device_registry import Registry, device_from_fields
from hydrology import Section, SectionStore
from people import People, Role
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from streetwatch.clock import FakeClock
from streetwatch.config import ApiSettings, DatabaseUrl, Settings
from streetwatch.database import Database, open_database
from web import create_app
from web.approvals import Approvals

T = TypeVar("T")
PASSWORD = "a long enough password"
INSIDE, OUTSIDE = "jingtai", "jingxi"
LAMPS = {"LP-IN-1": INSIDE, "LP-IN-2": INSIDE, "LP-OUT-1": OUTSIDE, "LP-ROOT-1": ""}
_sequence = itertools.count(1)


def _lamp(device_id: str, area: str, unit: int) -> dict[str, str]:
    group = "street-in" if area == INSIDE else "street-out"
    return {"id": device_id, "kind": "lamp_controller", "profile": "sw-lamp-controller", "transport": "modbus-tcp",
            "host": "127.0.0.1", "port": "1502", "unit": str(unit), "lat": "23.13", "lon": "113.26", "area": area,
            "groups": group}


@dataclass
class World:
    url: str
    database_url: str
    clock: FakeClock
    tokens: dict[str, str] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    approvals: dict[str, int] = field(default_factory=dict)

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        """Run ``work`` on a connection of the test's own (the server has its own)."""
        async def go() -> T:
            async with open_database(DatabaseUrl.parse(self.database_url)) as db:
                return await work(db)
        return asyncio.run(go())

    def client(self, role: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, **kwargs)

    def new_alert(self, where: str) -> int:
        device = "LP-IN-1" if where == "inside" else "LP-OUT-1"

        async def work(db: Database) -> int:
            store = AlertStore(db)
            change = await store.apply(AlertTransition(
                next(_sequence), AlertEvent.raised, f"lamp-fault-{next(_sequence)}", device, "red", None,
                self.clock.now(), device_kind="lamp_controller", metric="power_w", value=0.0, message="lamp dark"))
            assert change is not None
            return change.alert.id
        return self.run(work)

    def new_command(self, where: str) -> int:
        device = "LP-IN-1" if where == "inside" else "LP-OUT-1"

        async def work(db: Database) -> int:
            store = CommandStore(db, self.clock)
            command = await store.create(CommandTarget("device", device), Action.set_dim, {"level_pct": 40},
                                         [device], requester="seed", reason="", ttl_s=900)
            return command.id
        return self.run(work)

    def new_approval(self, where: str, requested_by: str = "someone-else") -> int:
        device = "LP-IN-1" if where == "inside" else "LP-OUT-1"

        async def work(db: Database) -> int:
            request = await Approvals(db).request(
                requested_by=requested_by, target=CommandTarget("device", device), action=Action.switch,
                params={"on": False}, device_ids=[device], device_areas=frozenset({LAMPS[device]}), reason="",
                ttl_s=900, why="test", now=self.clock.now(), lifetime=timedelta(hours=1))
            return request.id
        return self.run(work)


async def _seed(db: Database, world: World) -> None:
    people = People(db)
    await people.migrate()
    now = world.clock.now()
    for area, parent, level in (("baiyun", "root", "district"), (INSIDE, "baiyun", "street"),
                                ("tianhe", "root", "district"), (OUTSIDE, "tianhe", "street")):
        await people.areas.add(area, area.title(), parent=parent, level=level)
    for role in Role:
        user = f"{role.value}-user"
        await people.users.add(user, PASSWORD, now=now)
        await people.grants.grant(user, role.value, "baiyun", by="seed", now=now)
        world.tokens[role.value] = (await people.issue_token(user, role.value, "baiyun", lifetime=timedelta(days=30),
                                                             now=now)).secret
    await people.users.add("root-admin", PASSWORD, now=now)
    await people.grants.grant("root-admin", "admin", "root", by="seed", now=now)
    world.tokens["root-admin"] = (await people.issue_token("root-admin", "admin", "root",
                                                           lifetime=timedelta(days=30), now=now)).secret
    registry = Registry(db, clock=world.clock)
    await registry.migrate()
    for unit, (device_id, area) in enumerate(LAMPS.items(), start=1):
        await registry.add(device_from_fields(_lamp(device_id, area, unit)), by="seed")
    await people.audit.record(actor="seed", role="admin", area=OUTSIDE, address="cli", action="seed.outside",
                              target="x", result="ok", now=now)
    await people.audit.record(actor="seed", role="admin", area=OUTSIDE, address="cli", action="seed.outside",
                              target="LP-IN-1", result="ok", now=now)
    async with SectionStore.open(db) as sections:
        for section_id, area in (("SEC-IN", INSIDE), ("SEC-OUT", OUTSIDE)):
            await sections.add(Section(section_id, section_id, "Shijing River", area), now=now)
    await people.audit.record(actor="seed", role="admin", area=INSIDE, address="cli", action="seed.inside",
                              target="x", result="ok", now=now)


def api_settings(database_url: str, **api: Any) -> Settings:
    return Settings(database_url=database_url, api=ApiSettings(cookie_secure=False, **api))


@contextmanager
def serving(settings: Settings, clock: FakeClock) -> Iterator[str]:
    """uvicorn with the app on a free loopback port, in a thread; the base URL while it runs."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@contextmanager
def world_on(database_url: str, **api: Any) -> Iterator[World]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    world = World("", database_url, clock)
    settings = api_settings(database_url, **api)
    world.run(lambda db: _seed(db, world))
    with serving(settings, clock) as url:
        world.url = url
        world.alerts = {w: world.new_alert(w) for w in ("inside", "outside")}
        world.commands = {w: world.new_command(w) for w in ("inside", "outside")}
        world.approvals = {w: world.new_approval(w) for w in ("inside", "outside")}
        yield world
