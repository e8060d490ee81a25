"""The two-person rule on the live server, and ``streetwatch command approve``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from tests.web.world import World, world_on

pytestmark = pytest.mark.services
WHOLE_DISTRICT = {"target": {"kind": "area", "value": "baiyun"}, "action": "off", "reason": "storm drill"}


def test_a_whole_district_waits_for_a_second_person(world: World) -> None:
    with world.client("operator") as operator, world.client("duty_officer") as officer:
        asked = operator.post("/api/v1/commands", json=WHOLE_DISTRICT)
        assert asked.status_code == 202, asked.text
        approval = asked.json()["approval"]
        assert (approval["state"], approval["device_count"], approval["why"]) == ("awaiting_approval", 2,
                                                                                 "a whole district")
        own = operator.post(f"/api/v1/approvals/{approval['id']}/approve")
        assert own.status_code == 403 and "requester cannot approve" in own.json()["message"]
        approved = officer.post(f"/api/v1/approvals/{approval['id']}/approve")
        assert approved.status_code == 200, approved.text
        command = approved.json()["command"]
        assert (command["action"], command["params"], command["target"]) == ("switch", {"on": False}, "area:baiyun")
        detail = officer.get(f"/api/v1/commands/{command['id']}").json()
        assert sorted(d["device"] for d in detail["deliveries"]) == ["LP-IN-1", "LP-IN-2"]
        assert {d["status"] for d in detail["deliveries"]} == {"queued"}
        again = officer.post(f"/api/v1/approvals/{approval['id']}/approve")
        assert again.status_code == 409 and "approved" in again.json()["message"]
    with world.client("admin") as admin:
        actions = [(e["actor"], e["action"], e["result"]) for e in admin.get("/api/v1/audit").json()["entries"]]
    assert ("duty_officer-user", "command.approve", "queued") in actions
    assert ("operator-user", "command.approve", "refused: the requester cannot approve their own command; "
            "a second person must") in actions
    assert ("operator-user", "command.request", "awaiting_approval") in actions


def test_a_request_nobody_approves_expires(world: World) -> None:
    with world.client("operator") as operator, world.client("duty_officer") as officer:
        approval = operator.post("/api/v1/commands", json=WHOLE_DISTRICT).json()["approval"]
        world.clock.advance(timedelta(hours=1))
        late = officer.post(f"/api/v1/approvals/{approval['id']}/approve")
        assert late.status_code == 409 and "expired" in late.json()["message"]
        listed = {a["id"]: a["state"] for a in officer.get("/api/v1/approvals").json()["approvals"]}
        assert listed[approval["id"]] == "expired"


def test_more_devices_than_the_threshold_wait_and_the_cli_approves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'threshold.db'}"
    with world_on(url, approval_threshold=1) as small, small.client("operator") as operator:
        group = {"target": {"kind": "group", "value": "street-in"}, "action": "dim", "level_pct": 20}
        asked = operator.post("/api/v1/commands", json=group)
        assert asked.status_code == 202
        assert "more than api.approval_threshold (1)" in asked.json()["approval"]["why"]
        one = {"target": {"kind": "device", "value": "LP-IN-1"}, "action": "dim", "level_pct": 20}
        assert operator.post("/api/v1/commands", json=one).status_code == 201
        monkeypatch.setenv("STREETWATCH_DATABASE_URL", url)
        monkeypatch.setenv("USER", "shift-lead")
        assert main(["command", "approve", str(asked.json()["approval"]["id"])]) == 0
        assert "queued for 2 device(s)" in capsys.readouterr().out
        commands = operator.get("/api/v1/commands").json()["commands"]
        assert commands[0]["requester"] == "operator-user (approved by shift-lead)"
        assert main(["command", "approve", str(asked.json()["approval"]["id"])]) == 2
