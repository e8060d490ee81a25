"""Bad input gets a 4xx JSON answer naming the field; never a 500, never a stack trace. And the energy report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import open_store
from tests.web.world import World

pytestmark = pytest.mark.services


@pytest.mark.parametrize(("method", "url", "body", "status", "field", "words"), [
    ("POST", "/api/v1/commands", "{not json", 422, "body", "malformed JSON"),
    ("POST", "/api/v1/commands", {"target": {"kind": "device", "value": "LP-IN-1"}, "action": "dim",
                                  "level_pct": "high"}, 422, "body.level_pct", "integer"),
    ("POST", "/api/v1/commands", {"target": {"kind": "device", "value": "LP-IN-1"}, "action": "dim",
                                  "level_pct": 150}, 422, "body.level_pct", "100"),
    ("POST", "/api/v1/commands", {"target": {"kind": "device", "value": "LP-IN-1"}, "action": "on",
                                  "requester": "mayor"}, 422, "body.requester", "unknown field"),
    ("POST", "/api/v1/commands", {"target": {"kind": "planet", "value": "x"}, "action": "on"}, 422,
     "body.target.kind", "device"),
    ("POST", "/api/v1/commands", {"target": {"kind": "device", "value": "LP-IN-1"}, "action": "dim"}, 422,
     "level_pct", "dim needs a level"),
    ("POST", "/api/v1/commands", {"target": {"kind": "area", "value": "nowhere"}, "action": "on"}, 404,
     "target.value", "no area 'nowhere'"),
    ("POST", "/api/v1/commands", {"target": {"kind": "group", "value": "no-such-group"}, "action": "on"}, 404,
     "target.value", "no group"),
    ("POST", "/api/v1/commands", {"target": {"kind": "device", "value": "LP-IN-1"}, "action": "schedule",
                                  "schedule": "no-such-schedule"}, 422, "schedule", "no-such-schedule"),
    ("POST", "/api/v1/commands", [], 422, "body", "object"),
    ("GET", "/api/v1/devices?limit=100000", None, 422, "query.limit", "1000"),
    ("GET", "/api/v1/devices?limit=-1", None, 422, "query.limit", "1"),
    ("GET", "/api/v1/devices?area=nowhere", None, 422, "area", "no area 'nowhere'"),
    ("GET", "/api/v1/devices?status=melted", None, 422, "status", "melted"),
    ("GET", "/api/v1/devices?tag=novalue", None, 422, "tag", "KEY=VALUE"),
    ("GET", "/api/v1/devices/LP-IN-1/readings?metric=power_w&bucket=fortnight", None, 422, "bucket", "fortnight"),
    ("GET", "/api/v1/devices/LP-IN-1/readings?metric=power_w&from=yesterday", None, 422, "from", "ISO 8601"),
    ("GET", "/api/v1/devices/LP-IN-1/readings", None, 422, "query.metric", "required"),
    ("GET", "/api/v1/alerts/abc", None, 422, "path.alert_id", "integer"),
    ("GET", "/api/v1/alerts?state=burning", None, 422, "state", "burning"),
    ("POST", "/api/v1/alerts/1/ack", {"note": "x" * 3000}, 422, "body.note", "2000"),
    ("GET", "/api/v1/audit?since=last-week", None, 422, "since", "ISO 8601"),
    ("GET", "/api/v1/nothing-here", None, 404, None, "Not Found"),
    ("GET", "/api/v1/devices/LP-IN-1/readings?metric=power_w&to=0001-01-01T00:00:00", None, 422, "to", "outside"),
    ("GET", "/api/v1/devices/LP-IN-1/readings?metric=power_w&bucket=99999999999d", None, 422, "bucket", ""),
    ("GET", "/api/v1/devices?cursor=LP%00", None, 422, "query", "NUL"),
    ("GET", "/api/v1/devices/LP%00/readings?metric=x", None, 422, "path", "NUL"),
    ("POST", "/api/v1/commands", {"target": {"kind": "device", "value": "LP\u0000"}, "action": "on"}, 422,
     "body.target.value", "NUL"),
    ("GET", "/api/v1/energy?from=0001-01-01&to=0001-01-02", None, 422, "from", "outside"),
    ("GET", "/api/v1/energy?from=2026-12-02&to=2026-12-01", None, 422, "to", "before the first"),
    ("POST", "/api/v1/commands", {"target": {"kind": "tag", "value": "0"}, "action": "on"}, 422, "target.value",
     "key=value"),
    ("POST", "/api/v1/alerts/1/ack", b"\xff\xfe\x00", 422, "body", "malformed"),
    ("GET", f"/api/v1/alerts/{2**70}", None, 422, "path.alert_id", "less than or equal"),
])
def test_bad_input_is_a_4xx_naming_the_field(world: World, method: str, url: str, body: object, status: int,
                                             field: str | None, words: str) -> None:
    with world.client("admin") as client:
        if isinstance(body, str | bytes):
            response = client.request(method, url, content=body, headers={"Content-Type": "application/json"})
        else:
            response = client.request(method, url, json=body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["field"] == field, answer
    assert words in answer["message"], answer
    assert "Traceback" not in response.text


def test_a_repeated_ack_is_a_conflict_not_a_500(world: World) -> None:
    alert = world.new_alert("inside")
    with world.client("duty_officer") as client:
        assert client.post(f"/api/v1/alerts/{alert}/clear", json={}).status_code == 200
        again = client.post(f"/api/v1/alerts/{alert}/ack", json={"note": "late"})
    assert again.status_code == 409 and "closed" in again.json()["message"]


def test_energy_of_an_area_from_the_lamps_counters(world: World) -> None:
    async def write() -> None:
        async with open_store(DatabaseUrl.parse(world.database_url), StoreSettings()) as store:
            start = datetime(2026, 11, 30, 12, tzinfo=UTC)
            # 50 W for 48 hours: 1.2 kWh a day.
            await store.write([Reading("LP-IN-1", "energy_kwh", start + timedelta(hours=h), 100 + 0.05 * h)
                               for h in range(0, 49)])

    asyncio.run(write())
    with world.client("viewer") as client:
        answer = client.get("/api/v1/energy?from=2026-12-01&to=2026-12-01&by=lamp&area=jingtai")
    assert answer.status_code == 200, answer.text
    rows = {(r["lamp"], r["day"]): r for r in answer.json()["rows"]}
    assert rows[("LP-IN-1", "2026-12-01")]["kwh"] == pytest.approx(1.2, abs=0.01)
