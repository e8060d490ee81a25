"""``/api/v1/events``: alert changes of the caller's areas as they happen, resumable with Last-Event-ID."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from queue import Empty, Queue

import httpx
import pytest

from duty.tasks import Move, Tasks
from gateway.intake.records import GatewayRecords, StatusChange
from gateway.intake.schema import MIGRATIONS as GATEWAY_MIGRATIONS
from streetwatch.database import Database
from streetwatch.migrations import migrate
from tests.web.world import INSIDE, OUTSIDE, World

pytestmark = pytest.mark.services
Event = tuple[str | None, str, dict[str, object]]


def _events(response: httpx.Response) -> Iterator[Event]:
    event_id, name, data = None, "", ""
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and name:
            yield event_id, name, json.loads(data)
            event_id, name, data = None, "", ""


def _listen(world: World, role: str, headers: dict[str, str], into: Queue[Event], ready: threading.Event) -> None:
    with world.client(role) as client, client.stream("GET", "/api/v1/events", headers=headers) as response:
        assert response.status_code == 200
        ready.set()
        for event in _events(response):
            into.put(event)
            if event[1] == "alert" and event[2].get("note") == "stop":
                return


def _alerts_until_stop(queue: Queue[Event]) -> list[Event]:
    seen = []
    while True:
        try:
            event = queue.get(timeout=20)
        except Empty:
            raise AssertionError(f"the stream went quiet; saw {seen}") from None
        if event[1] == "alert":
            seen.append(event)
            if event[2].get("note") == "stop":
                return seen


def _stop(world: World) -> int:
    """An acknowledged inside alert: its 'acknowledged' event (note 'stop') ends a listener."""
    alert = world.new_alert("inside")
    with world.client("duty_officer") as client:
        assert client.post(f"/api/v1/alerts/{alert}/ack", json={"note": "stop"}).status_code == 200
    return alert


def test_a_viewer_sees_alerts_of_its_areas_live_and_resumes_after_a_break(world: World) -> None:
    queue: Queue[Event] = Queue()
    ready = threading.Event()
    listener = threading.Thread(target=_listen, args=(world, "viewer", {}, queue, ready), daemon=True)
    listener.start()
    assert ready.wait(20)
    outside = world.new_alert("outside")
    inside = world.new_alert("inside")
    stop = _stop(world)
    seen = _alerts_until_stop(queue)
    listener.join(20)
    assert [(e[2]["alert_id"], e[2]["event"]) for e in seen] == [(inside, "raised"), (stop, "raised"),
                                                                  (stop, "acknowledged")]
    assert outside not in {e[2]["alert_id"] for e in seen}
    assert seen[2][2]["actor"] == "duty_officer-user"

    # Reconnect from the first event: the two after it come again, in order.
    first_id = seen[0][0]
    assert first_id is not None
    again: Queue[Event] = Queue()
    ready = threading.Event()
    resumed = threading.Thread(target=_listen, args=(world, "viewer", {"Last-Event-ID": first_id}, again, ready),
                               daemon=True)
    resumed.start()
    replay = _alerts_until_stop(again)
    resumed.join(20)
    assert [(e[2]["alert_id"], e[2]["event"]) for e in replay] == [(stop, "raised"), (stop, "acknowledged")]


def test_command_progress_is_streamed(world: World) -> None:
    with world.client("operator") as operator:
        created = operator.post("/api/v1/commands", json={"target": {"kind": "device", "value": "LP-IN-2"},
                                                          "action": "on"})
        command = created.json()["command"]["id"]
        with operator.stream("GET", "/api/v1/events") as response:
            for _, name, data in _events(response):
                if name == "command" and data["command"] == command:
                    assert (data["status"], data["device_count"]) == ("queued", 1)
                    break


def test_a_bad_last_event_id_is_named(world: World) -> None:
    with world.client("viewer") as client:
        answer = client.get("/api/v1/events", headers={"Last-Event-ID": "yesterday"})
    assert answer.status_code == 422 and answer.json()["field"] == "Last-Event-ID"


def _device_change(world: World, device_id: str, online: bool, detail: str = "") -> None:
    async def work(db: Database) -> None:
        await migrate(db, GATEWAY_MIGRATIONS)
        await GatewayRecords(db).add_status_changes([StatusChange(device_id, online, world.clock.now(), "modbus",
                                                                  detail)])
    world.run(work)


def _collect_until_device_stop(world: World, headers: dict[str, str], then: Callable[[], object] = lambda: None
                               ) -> list[Event]:
    """Alert and device events a viewer sees, with ``then`` run once connected, until the device event 'stop'."""
    seen: list[Event] = []
    ready = threading.Event()

    def listen() -> None:
        with world.client("viewer") as client, client.stream("GET", "/api/v1/events", headers=headers) as response:
            assert response.status_code == 200
            ready.set()
            for event in _events(response):
                if event[1] in ("alert", "device"):
                    seen.append(event)
                if event[1] == "device" and event[2]["detail"] == "stop":
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(20)
    then()
    listener.join(30)
    assert not listener.is_alive(), f"the stream went quiet; saw {seen}"
    return seen


def test_devices_going_offline_and_online_are_streamed_in_the_callers_areas_and_resumed(world: World) -> None:
    alerts: list[int] = []

    def changes() -> None:
        _device_change(world, "LP-OUT-1", False, "outside")
        _device_change(world, "LP-IN-1", False, "no answer to 3 polls")
        alerts.append(world.new_alert("inside"))
        _device_change(world, "LP-IN-1", True)
        _device_change(world, "LP-IN-2", False, "stop")

    seen = _collect_until_device_stop(world, {}, changes)
    devices = [(e[2]["device"], e[2]["state"], e[2]["detail"]) for e in seen if e[1] == "device"]
    assert devices == [("LP-IN-1", "offline", "no answer to 3 polls"), ("LP-IN-1", "online", ""),
                       ("LP-IN-2", "offline", "stop")]
    assert [e[2]["alert_id"] for e in seen if e[1] == "alert"] == alerts
    first = next(n for n, e in enumerate(seen) if e[1] == "device")
    assert seen[first][2]["area"] == "jingtai" and seen[first][2]["online"] is False
    ids = [e[0] for e in seen]
    assert all(ids) and len(set(ids)) == len(ids)

    # Resume after the first device event: exactly what came after it comes again, in order.
    last_id = seen[first][0]
    assert last_id is not None
    replay = _collect_until_device_stop(world, {"Last-Event-ID": last_id})
    assert [(e[1], e[2]) for e in replay] == [(e[1], e[2]) for e in seen[first + 1:]]


def test_resuming_from_a_position_gives_only_what_came_after_it(world: World) -> None:
    _device_change(world, "LP-IN-1", False, "before")
    replay_from = world.run(_positions)
    _device_change(world, "LP-IN-1", True, "stop")
    replay = _collect_until_device_stop(world, {"Last-Event-ID": replay_from})
    assert [(e[1], e[2]["detail"]) for e in replay] == [("device", "stop")]


async def _positions(db: Database) -> str:
    alert = await db.fetch_value("SELECT COALESCE(MAX(id), 0) AS last FROM alert_history")
    device = await db.fetch_value("SELECT COALESCE(MAX(id), 0) AS last FROM gateway_device_events")
    return f"{alert}-{device}"


def test_task_orders_states_are_streamed_in_the_caller_s_areas(world: World) -> None:
    def dispatch(area: str) -> int:
        async def work(db: Database) -> int:
            task = await Tasks(db).create(kind="send_pump", title="pump", area=area, assignee="viewer-user",
                                          by="seed", now=world.clock.now(), accept_within_s=600)
            return task.id
        return world.run(work)

    inside, outside = dispatch(INSIDE), dispatch(OUTSIDE)
    states: list[tuple[int, str]] = []
    with world.client("viewer") as viewer, viewer.stream("GET", "/api/v1/events") as response:
        for _, name, data in _events(response):
            if name != "task":
                continue
            states.append((int(str(data["task"])), str(data["state"])))
            # A state is a snapshot: the stream's opening state and the hub's change may both say "dispatched".
            if states[-1] == (inside, "dispatched") and states.count(states[-1]) == 1:
                world.run(lambda db: Tasks(db).move(inside, Move.accept, by="viewer-user", now=world.clock.now()))
            if states[-1] == (inside, "accepted"):
                break
    assert (inside, "dispatched") in states
    assert outside not in {task for task, _ in states}
