"""``/api/v1/tasks``: dispatch, steps with who and when, refused steps, bad input naming the field, audited."""

from __future__ import annotations

import pytest

from tests.web.world import INSIDE, World

pytestmark = pytest.mark.services


def test_a_task_is_dispatched_and_moved_through_the_api(world: World) -> None:
    with world.client("duty_officer") as client:
        created = client.post("/api/v1/tasks", json={"type": "close_underpass", "title": "Close the underpass",
                                                     "area": INSIDE, "assignee": "viewer-user",
                                                     "alert": world.alerts["inside"]})
        assert created.status_code == 201, created.text
        task = created.json()
        assert (task["state"], task["created_by"], task["alert"]) == ("dispatched", "duty_officer-user",
                                                                      world.alerts["inside"])
        url = f"/api/v1/tasks/{task['id']}"
        assert client.post(f"{url}/steps", json={"step": "accept"}).json()["state"] == "accepted"
        refused = client.post(f"{url}/steps", json={"step": "accept"})
        assert refused.status_code == 409 and "cannot go to accepted" in refused.json()["message"]
        assert client.post(f"{url}/steps", json={"step": "done", "note": "closed"}).json()["state"] == "done"
        steps = client.get(url).json()["steps"]
        assert [(s["state"], s["by"], s["note"]) for s in steps] == [
            ("dispatched", "duty_officer-user", "to viewer-user"), ("accepted", "duty_officer-user", ""),
            ("done", "duty_officer-user", "closed")]
        bad = client.post("/api/v1/tasks", json={"type": "x", "title": "y", "area": INSIDE, "assignee": "nobody"})
        assert bad.status_code == 422 and bad.json()["field"] == "assignee"
        bad = client.post(f"{url}/steps", json={"step": "teleport"})
        assert bad.status_code == 422 and "step" in bad.json()["field"]
    with world.client("admin") as admin:
        audit = admin.get("/api/v1/audit?limit=1000")
    actions = [(e["action"], e["result"]) for e in audit.json()["entries"] if e["target"] == str(task["id"])]
    assert ("task.create", "ok") in actions and ("task.done", "ok") in actions
    assert any(a == "task.accept" and r.startswith("refused") for a, r in actions)
