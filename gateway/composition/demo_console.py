"""The operator console during ``streetwatch demo``: the web app served in the demo's own process.

The demo starts it on 127.0.0.1 against the demo's SQLite store, with a demo operator granted the
root area, so the storm can be watched on the map while it happens. The port is ``api.port`` when
it was configured, else a free one (the demo must not fail because something holds port 8000).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import uvicorn

from gateway.composition.http import InProcessServer, bind
from people import ROOT_AREA, People, Role
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import Database
from web.app import create_app

DEMO_USER = "demo"
DEMO_HOST = "127.0.0.1"
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DemoConsole:
    url: str
    user: str
    password: str


async def add_demo_operator(db: Database, now: datetime) -> str:
    """The demo user, an operator of the root area, with a new password (returned: shown once)."""
    people = People(db)
    await people.migrate()
    password = secrets.token_urlsafe(12)
    if await people.users.get(DEMO_USER) is None:
        await people.users.add(DEMO_USER, password, now=now, display_name="Demo operator")
        await people.grants.grant(DEMO_USER, Role.operator, ROOT_AREA, by="demo", now=now)
    else:
        await people.users.set_password(DEMO_USER, password)
    return password


@contextlib.asynccontextmanager
async def demo_console(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[DemoConsole]:
    """Serve the console while the block runs; its address and the demo login."""
    password = await add_demo_operator(db, clock.now())
    # Plain HTTP on loopback: the session cookie cannot be marked Secure there for every browser.
    served = settings.model_copy(update={"api": settings.api.model_copy(update={"cookie_secure": False})})
    sock = bind(served.api.port if "port" in served.api.model_fields_set else 0, "the console's api.port",
                DEMO_HOST)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(served, clock=clock), log_level="warning", access_log=False,
                            server_header=False, lifespan="on")
    server = InProcessServer(config)  # Ctrl-C belongs to the demo
    task = asyncio.create_task(server.serve(sockets=[sock]), name="demo-console")
    try:
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT_S
        while not server.started:
            if task.done():
                task.result()  # the reason it did not start
                raise RuntimeError("the console stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the console did not start within {_START_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.05)
        yield DemoConsole(f"http://{DEMO_HOST}:{port}/", DEMO_USER, password)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()
