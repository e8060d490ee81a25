"""On PostgreSQL the event stream is woken by the database's notifications, not by its poll.

The API runs with a 30 s poll here: an event that arrives within seconds came through ``LISTEN``/``NOTIFY``
(streetwatch/database/changes.py and the statement triggers of each table's owner).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from queue import Empty, Queue

import psycopg
import pytest

from benchmarks.servers import PostgresServer
from duty.tasks import Tasks
from gateway.intake.records import GatewayRecords, StatusChange
from gateway.intake.schema import MIGRATIONS as GATEWAY_MIGRATIONS
from streetwatch.database import Database
from streetwatch.database.changes import CHANNEL
from streetwatch.migrations import migrate
from tests.conftest import _database_name
from tests.web.test_events import Event, _events
from tests.web.world import INSIDE, World, world_on

pytestmark = pytest.mark.services
SLOW_POLL_S = 30.0
PROMPT_S = 3.0  # ten times less than the poll: only a notification delivers within it


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, postgres_server: PostgresServer) -> Iterator[World]:
    url = postgres_server.create_database(_database_name(request) + "_notify")
    with world_on(url, requests_per_minute=100_000, events_poll_s=SLOW_POLL_S) as opened:
        yield opened


def _first_event(world: World, wanted: Callable[[Event], bool], then: Callable[[], object]) -> float:
    """Seconds from ``then`` (run once the stream is open) to the first event ``wanted`` accepts."""
    found: Queue[float] = Queue()
    ready = threading.Event()

    def listen() -> None:
        with world.client("viewer") as client, client.stream("GET", "/api/v1/events") as response:
            ready.set()
            for event in _events(response):
                if wanted(event):
                    found.put(time.monotonic())
                    return

    threading.Thread(target=listen, daemon=True).start()
    assert ready.wait(20)
    time.sleep(0.3)  # the hub has read the feeds once since the stream opened; the next read needs a wake-up
    started = time.monotonic()
    then()
    try:
        return found.get(timeout=SLOW_POLL_S - 5) - started
    except Empty:
        raise AssertionError("no event before the poll would have read it") from None


def test_an_alert_reaches_the_stream_through_the_database_s_notification(world: World) -> None:
    alerts: list[int] = []
    took = _first_event(world, lambda e: e[1] == "alert" and e[2]["alert_id"] in alerts,
                        lambda: alerts.append(world.new_alert("inside")))
    assert took < PROMPT_S


def test_device_changes_and_task_orders_notify_too(world: World) -> None:
    def offline() -> None:
        async def work(db: Database) -> None:
            await migrate(db, GATEWAY_MIGRATIONS)  # the gateway's table and its trigger, as a gateway makes them
            await GatewayRecords(db).add_status_changes([StatusChange("LP-IN-1", False, world.clock.now(), "modbus",
                                                                      "notified")])
        world.run(work)

    assert _first_event(world, lambda e: e[1] == "device" and e[2]["detail"] == "notified", offline) < PROMPT_S
    tasks: list[int] = []

    def dispatch() -> None:
        async def work(db: Database) -> int:
            task = await Tasks(db).create(kind="send_pump", title="pump", area=INSIDE, assignee="viewer-user",
                                          by="seed", now=world.clock.now(), accept_within_s=600)
            return task.id
        tasks.append(world.run(work))

    assert _first_event(world, lambda e: e[1] == "task" and e[2]["task"] in tasks, dispatch) < PROMPT_S


def test_the_listener_comes_back_after_its_connection_is_cut(world: World) -> None:
    with psycopg.connect(world.database_url, autocommit=True) as admin:
        cut = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND query = %s", (f"LISTEN {CHANNEL}",)).fetchall()
    assert cut == [(True,)]  # the API's one listening connection
    time.sleep(1.5)  # reconnects after its first backoff (0.5 s ± jitter)
    alerts: list[int] = []
    took = _first_event(world, lambda e: e[1] == "alert" and e[2]["alert_id"] in alerts,
                        lambda: alerts.append(world.new_alert("inside")))
    assert took < PROMPT_S
