"""Every route × every role × inside/outside the caller's areas, against the live server.

The table below has one entry per route of the app; a route added without an entry fails
``test_every_route_has_an_entry``, so no route can be forgotten. For each route:
  * no credentials → 401;
  * a role whose permissions lack the route's permission → 403;
  * a role that has it → the success status for an object inside its areas, and 404 for one outside
    (for listings: the outside objects are absent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from duty.tasks import Tasks
from people import PERMISSIONS, Permission, Role
from streetwatch.config import Settings
from streetwatch.database import Database
from tests.web.world import INSIDE, OUTSIDE, World
from web.app import PUBLIC_ROUTES, api_routes, create_app, route_permission, served_operations

pytestmark = pytest.mark.services

Where = str  # "inside" or "outside"
Request = tuple[str, dict[str, Any] | None]  # (url, JSON body)


@dataclass(frozen=True)
class Case:
    request: Callable[[World, Where], Request]
    ok: int = 200
    # For listings: True when the response shows nothing of the outside.
    hides_outside: Callable[[World, dict[str, Any]], bool] | None = None
    # Why a route has no object to be inside or outside of.
    no_area: str | None = None


def _device(where: Where) -> str:
    return "LP-IN-1" if where == "inside" else "LP-OUT-1"


def _ids(items: list[dict[str, Any]]) -> set[Any]:
    return {item["id"] for item in items}


_TASKS: dict[int, tuple[World, dict[Where, int]]] = {}


def _new_task(w: World, where: Where) -> int:
    area = INSIDE if where == "inside" else OUTSIDE

    async def work(db: Database) -> int:
        task = await Tasks(db).create(kind="inspect_lamp", title="inspect", area=area, assignee="viewer-user",
                                      by="seed", now=w.clock.now(), accept_within_s=600)
        return task.id
    return w.run(work)


def _tasks(w: World) -> dict[Where, int]:
    """One task inside and one outside, made once per world."""
    # The world is kept with its tasks: once the sqlite world were gone, the postgresql world could get
    # its id() and would then look for the sqlite world's tasks.
    if id(w) not in _TASKS:
        _TASKS[id(w)] = (w, {where: _new_task(w, where) for where in ("inside", "outside")})
    return _TASKS[id(w)][1]


def _task_listing(w: World) -> str:
    _tasks(w)  # something to list, inside and outside
    return "/api/v1/tasks"


SCHEDULE = "night"
MATRIX: dict[tuple[str, str], Case] = {
    ("DELETE", "/api/v1/session"): Case(lambda w, _: ("/api/v1/session", None), no_area="ends the caller's session"),
    ("GET", "/api/v1/me"): Case(lambda w, _: ("/api/v1/me", None), no_area="the caller themself"),
    ("GET", "/api/v1/me/preferences"): Case(lambda w, _: ("/api/v1/me/preferences", None),
                                            no_area="the caller's own preferences"),
    ("PUT", "/api/v1/me/preferences"): Case(lambda w, _: ("/api/v1/me/preferences", {"language": "zh-CN"}),
                                            no_area="the caller's own preferences"),
    ("GET", "/api/v1/map"): Case(
        lambda w, _: ("/api/v1/map", None),
        hides_outside=lambda w, body: set(body["ids"]) == {"LP-IN-1", "LP-IN-2"} and body["count"] == 2),
    ("GET", "/api/v1/areas"): Case(
        lambda w, _: ("/api/v1/areas", None),
        hides_outside=lambda w, body: "jingxi" not in _ids(body["areas"]) and "jingtai" in _ids(body["areas"])),
    ("GET", "/api/v1/areas/{area_id}"): Case(
        lambda w, where: (f"/api/v1/areas/{'jingtai' if where == 'inside' else 'jingxi'}", None)),
    ("GET", "/api/v1/devices"): Case(
        lambda w, _: ("/api/v1/devices", None),
        hides_outside=lambda w, body: _ids(body["devices"]) == {"LP-IN-1", "LP-IN-2"}),
    ("GET", "/api/v1/devices.geojson"): Case(
        lambda w, _: ("/api/v1/devices.geojson", None),
        hides_outside=lambda w, body: _ids(body["features"]) == {"LP-IN-1", "LP-IN-2"}),
    ("GET", "/api/v1/devices/{device_id}"): Case(lambda w, where: (f"/api/v1/devices/{_device(where)}", None)),
    ("GET", "/api/v1/devices/{device_id}/audit"): Case(
        lambda w, where: (f"/api/v1/devices/{_device(where)}/audit", None)),
    ("GET", "/api/v1/water/sections"): Case(
        lambda w, _: ("/api/v1/water/sections", None),
        hides_outside=lambda w, body: [s["section"] for s in body["sections"]] == ["SEC-IN"]),
    ("GET", "/api/v1/hazards"): Case(
        lambda w, _: ("/api/v1/hazards", None),  # the world has no gauges: tests/web/console shows the inside
        hides_outside=lambda w, body: body["hazards"] == []),
    ("GET", "/api/v1/tasks/assignees"): Case(
        lambda w, where: (f"/api/v1/tasks/assignees?area={INSIDE if where == 'inside' else OUTSIDE}", None)),
    ("GET", "/api/v1/devices/{device_id}/readings"): Case(
        lambda w, where: (f"/api/v1/devices/{_device(where)}/readings?metric=power_w&bucket=1h", None)),
    ("GET", "/api/v1/alerts"): Case(
        lambda w, _: ("/api/v1/alerts?limit=1000", None),
        hides_outside=lambda w, body: w.alerts["outside"] not in _ids(body["alerts"])
        and w.alerts["inside"] in _ids(body["alerts"])),
    ("GET", "/api/v1/alerts/{alert_id}"): Case(lambda w, where: (f"/api/v1/alerts/{w.alerts[where]}", None)),
    ("GET", "/api/v1/tasks"): Case(
        lambda w, _: (_task_listing(w), None),
        hides_outside=lambda w, body: _tasks(w)["outside"] not in _ids(body["tasks"])
        and _tasks(w)["inside"] in _ids(body["tasks"])),
    ("GET", "/api/v1/tasks/{task_id}"): Case(lambda w, where: (f"/api/v1/tasks/{_tasks(w)[where]}", None)),
    ("POST", "/api/v1/tasks"): Case(
        lambda w, where: ("/api/v1/tasks", {"type": "close_underpass", "title": "close it", "assignee": "viewer-user",
                                            "area": INSIDE if where == "inside" else OUTSIDE}), ok=201),
    ("POST", "/api/v1/tasks/{task_id}/steps"): Case(
        lambda w, where: (f"/api/v1/tasks/{_new_task(w, where)}/steps", {"step": "accept", "note": "on my way"})),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): Case(
        lambda w, where: (f"/api/v1/alerts/{w.new_alert(where)}/ack", {"note": "crew sent"})),
    ("POST", "/api/v1/alerts/{alert_id}/clear"): Case(
        lambda w, where: (f"/api/v1/alerts/{w.new_alert(where)}/clear", {"note": "fixed"})),
    ("POST", "/api/v1/commands"): Case(
        lambda w, where: ("/api/v1/commands", {"target": {"kind": "device", "value": _device(where)},
                                               "action": "dim", "level_pct": 30}), ok=201),
    ("GET", "/api/v1/commands"): Case(
        lambda w, _: ("/api/v1/commands?limit=1000", None),
        hides_outside=lambda w, body: w.commands["outside"] not in _ids(body["commands"])
        and w.commands["inside"] in _ids(body["commands"])),
    ("GET", "/api/v1/commands/{command_id}"): Case(lambda w, where: (f"/api/v1/commands/{w.commands[where]}", None)),
    ("POST", "/api/v1/commands/{command_id}/cancel"): Case(
        lambda w, where: (f"/api/v1/commands/{w.new_command(where)}/cancel", None)),
    ("GET", "/api/v1/approvals"): Case(
        lambda w, _: ("/api/v1/approvals", None),
        hides_outside=lambda w, body: w.approvals["outside"] not in _ids(body["approvals"])
        and w.approvals["inside"] in _ids(body["approvals"])),
    ("POST", "/api/v1/approvals/{request_id}/approve"): Case(
        lambda w, where: (f"/api/v1/approvals/{w.new_approval(where)}/approve", None)),
    ("GET", "/api/v1/groups"): Case(
        lambda w, _: ("/api/v1/groups", None),
        hides_outside=lambda w, body: [g["name"] for g in body["groups"]] == ["street-in"]),
    ("GET", "/api/v1/groups/{name}"): Case(
        lambda w, where: (f"/api/v1/groups/{'street-in' if where == 'inside' else 'street-out'}", None)),
    ("GET", "/api/v1/schedules"): Case(lambda w, _: ("/api/v1/schedules", None),
                                       no_area="schedules are the same for every area"),
    ("GET", "/api/v1/schedules/{name}"): Case(lambda w, _: (f"/api/v1/schedules/{SCHEDULE}", None),
                                              no_area="schedules are the same for every area"),
    ("GET", "/api/v1/energy"): Case(
        lambda w, _: ("/api/v1/energy?from=2026-12-01&to=2026-12-02&by=lamp", None),
        hides_outside=lambda w, body: body["lamps"] == 2),
    ("GET", "/api/v1/events"): Case(lambda w, _: ("/api/v1/events", None),
                                    no_area="a stream; test_events.py checks that it leaves the outside out"),
    ("GET", "/api/v1/audit"): Case(
        lambda w, _: ("/api/v1/audit?limit=1000", None),
        hides_outside=lambda w, body: "seed.outside" not in {e["action"] for e in body["entries"]}
        and "seed.inside" in {e["action"] for e in body["entries"]}),
}


def _routes() -> list[tuple[str, str, Permission]]:
    """Every operation the app serves (from its OpenAPI document), with the permission its route checks."""
    app = create_app(Settings())
    permissions = {(method, route.path): route_permission(route) for route in api_routes()
                   for method in route.methods or ()}
    found = []
    for method, path in sorted(served_operations(app) - PUBLIC_ROUTES):
        permission = permissions.get((method, path))
        assert isinstance(permission, Permission), f"{method} {path} has no permission"
        found.append((method, path, permission))
    return found


ROUTES = _routes()


def test_every_route_has_an_entry() -> None:
    served = {(method, path) for method, path, _ in ROUTES}
    assert served - MATRIX.keys() == set(), "routes without an entry in the authorization matrix"
    assert MATRIX.keys() - served == set(), "entries for routes the app does not serve"


def _send(client: httpx.Client, method: str, request: Request) -> httpx.Response:
    """The answer; of an event stream, only the status and headers (it does not end)."""
    url, body = request
    with client.stream(method, url, json=body) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    return response


@pytest.mark.parametrize(("method", "path", "permission"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_answers_each_role_as_specified(world: World, method: str, path: str, permission: Permission) -> None:
    case = MATRIX[(method, path)]
    with world.client() as anonymous:
        response = _send(anonymous, method, case.request(world, "inside"))
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthenticated"
    for role in Role:
        allowed = permission in PERMISSIONS[role]
        with world.client(role.value) as client:
            inside = _send(client, method, case.request(world, "inside"))
            if not allowed:
                assert inside.status_code == 403, (role, inside.text)
                assert permission.value in inside.json()["message"]
                continue
            assert inside.status_code == case.ok, (role, inside.text)
            if case.hides_outside is not None:
                assert case.hides_outside(world, inside.json()), (role, inside.text)
            elif case.no_area is None:
                outside = _send(client, method, case.request(world, "outside"))
                assert outside.status_code == 404, (role, outside.text)
                assert outside.json()["error"] == "not_found"


def test_a_city_wide_admin_sees_the_outside_too(world: World) -> None:
    with world.client("root-admin") as client:
        devices = client.get("/api/v1/devices").json()["devices"]
        assert _ids(devices) == {"LP-IN-1", "LP-IN-2", "LP-OUT-1", "LP-ROOT-1"}
        assert client.get(f"/api/v1/alerts/{world.alerts['outside']}").status_code == 200
