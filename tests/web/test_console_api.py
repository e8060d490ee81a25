"""The API the console's newer views use: selections, a device's audit entries, task orders of an alert and who
may take them, the water sections; on SQLite and TimescaleDB, each with the caller's areas."""

from __future__ import annotations

import pytest

from tests.web.world import World

pytestmark = pytest.mark.services


def _dim(devices: list[str]) -> dict[str, object]:
    return {"target": {"kind": "selection", "value": "lasso"}, "devices": devices, "action": "dim", "level_pct": 20}


def test_a_selection_commands_exactly_its_devices(world: World) -> None:
    with world.client("operator") as operator:
        made = operator.post("/api/v1/commands", json=_dim(["LP-IN-2", "LP-IN-1", "LP-IN-1"]))
        assert made.status_code == 201, made.text
        command = made.json()["command"]
        assert (command["target"], command["device_count"]) == ("selection:2 devices", 2)
        detail = operator.get(f"/api/v1/commands/{command['id']}").json()
        assert sorted(d["device"] for d in detail["deliveries"]) == ["LP-IN-1", "LP-IN-2"]
        outside = operator.post("/api/v1/commands", json=_dim(["LP-IN-1", "LP-OUT-1"]))
        assert outside.status_code == 404, outside.text
        assert outside.json()["field"] == "devices"
        assert "1 of the 2 selected devices are not in your areas" in outside.json()["message"]
        bare = operator.post("/api/v1/commands", json={**_dim(["LP-IN-1"]), "devices": None})
        assert bare.status_code == 422 and bare.json()["field"] == "devices"
        listed = operator.post("/api/v1/commands", json={**_dim(["LP-IN-1"]),
                                                         "target": {"kind": "group", "value": "street-in"}})
        assert listed.status_code == 422 and listed.json()["field"] == "devices"
    with world.client("viewer") as viewer:
        assert viewer.post("/api/v1/commands", json=_dim(["LP-IN-1"])).status_code == 403
    with world.client("admin") as admin:
        entries = admin.get("/api/v1/audit?limit=1000").json()["entries"]
    assert any(e["target"] == "selection:2 devices" and e["result"] == "queued" for e in entries)


def test_a_device_s_audit_entries_are_those_of_the_caller_s_areas(world: World) -> None:
    with world.client("operator") as operator:
        assert operator.post("/api/v1/commands", json={"target": {"kind": "device", "value": "LP-IN-1"},
                                                       "action": "on"}).status_code == 201
        mine = operator.get("/api/v1/devices/LP-IN-1/audit").json()["entries"]
    assert (mine[0]["action"], mine[0]["target"], mine[0]["result"]) == ("command.create", "LP-IN-1", "queued")
    assert "seed.outside" not in {e["action"] for e in mine}  # recorded in jingxi, outside baiyun
    assert "address" not in mine[0]
    with world.client("root-admin") as everywhere:
        seen = everywhere.get("/api/v1/devices/LP-IN-1/audit").json()["entries"]
    assert "seed.outside" in {e["action"] for e in seen}


def test_the_tasks_of_an_alert_and_who_may_take_them(world: World) -> None:
    alert = world.new_alert("inside")
    with world.client("duty_officer") as officer:
        people = officer.get("/api/v1/tasks/assignees?area=jingtai").json()
        assert {p["user"] for p in people["assignees"]} >= {"viewer-user", "duty_officer-user", "root-admin"}
        made = officer.post("/api/v1/tasks", json={"type": "inspect_lamp", "title": "lamp dark", "area": "jingtai",
                                                   "assignee": "installer-user", "alert": alert})
        assert made.status_code == 201, made.text
        listed = officer.get(f"/api/v1/tasks?alert={alert}").json()["tasks"]
        assert [(t["id"], t["alert"], t["state"]) for t in listed] == [(made.json()["id"], alert, "dispatched")]
        assert officer.get(f"/api/v1/tasks?alert={world.new_alert('inside')}").json()["tasks"] == []
        assert officer.get("/api/v1/tasks/assignees?area=jingxi").status_code == 404


def test_the_water_sections_of_the_caller_s_areas(world: World) -> None:
    with world.client("viewer") as viewer:
        answer = viewer.get("/api/v1/water/sections?date=2026-12-05").json()
        assert answer["date"] == "2026-12-05"
        (section,) = answer["sections"]
        assert (section["section"], section["area"], section["class"], section["probes"]) == ("SEC-IN", "jingtai",
                                                                                            None, [])
        assert viewer.get("/api/v1/water/sections?date=0001-01-01").status_code == 422
