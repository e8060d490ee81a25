"""``/api/v1/devices``, its GeoJSON form (answered by ETag until the registry changes) and readings in buckets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from device_registry import Registry
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database
from streetwatch.readings import Reading
from telemetry_store import open_store
from tests.web.world import World

pytestmark = pytest.mark.services


def test_a_page_of_devices_shows_what_the_registry_holds_without_addresses(world: World) -> None:
    with world.client("viewer") as client:
        page = client.get("/api/v1/devices", params={"area": "jingtai", "limit": 1}).json()
        rest = client.get("/api/v1/devices", params={"area": "jingtai", "cursor": page["next_cursor"]}).json()
    assert [d["id"] for d in page["devices"] + rest["devices"]] == ["LP-IN-1", "LP-IN-2"]
    assert rest["next_cursor"] is None
    first = page["devices"][0]
    assert first == {"id": "LP-IN-1", "kind": "lamp_controller", "profile": "sw-lamp-controller",
                     "transport": "modbus-tcp", "site": "", "area": "jingtai", "status": first["status"],
                     "groups": ["street-in"], "tags": {},
                     "location": {"latitude": 23.13, "longitude": 113.26, "landmark": ""}}
    assert "address" not in first and "host" not in str(first)


def test_geojson_is_answered_by_etag_until_the_registry_changes(world: World) -> None:
    with world.client("viewer") as client:
        first = client.get("/api/v1/devices.geojson")
        etag = first.headers["ETag"]
        assert first.headers["Content-Encoding"] == "gzip"  # httpx asks for it; the cached body is gzipped once
        features = first.json()["features"]
        assert {f["id"] for f in features} == {"LP-IN-1", "LP-IN-2"}  # the viewer's areas only
        assert features[0]["geometry"] == {"type": "Point", "coordinates": [113.26, 23.13]}
        assert client.get("/api/v1/devices.geojson", headers={"If-None-Match": etag}).status_code == 304
        plain = client.get("/api/v1/devices.geojson", headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers and plain.json() == first.json()

        world.run(lambda db: Registry(db).update("LP-IN-2", {"landmark": "by the school gate"}, by="test"))
        changed = client.get("/api/v1/devices.geojson", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        landmarks = {f["id"]: f["properties"]["landmark"] for f in changed.json()["features"]}
        assert landmarks == {"LP-IN-1": "", "LP-IN-2": "by the school gate"}
    with world.client("root-admin") as admin:
        everyone = admin.get("/api/v1/devices.geojson")
        assert everyone.headers["ETag"] != changed.headers["ETag"]  # another caller's areas: another answer
        assert len(everyone.json()["features"]) == 4


def test_a_day_of_readings_in_minute_buckets(world: World) -> None:
    end = world.clock.now().replace(second=0)
    start = end - timedelta(hours=1)

    async def write(db: Database) -> None:
        async with open_store(DatabaseUrl.parse(world.database_url)) as store:
            await store.write([Reading("LP-IN-1", "power_w", start + timedelta(seconds=20 * i), float(i))
                               for i in range(180)])

    world.run(write)
    with world.client("viewer") as client:
        answer = client.get("/api/v1/devices/LP-IN-1/readings", params={
            "metric": "power_w", "from": start.isoformat(), "to": end.isoformat(), "bucket": "1m"}).json()
    assert answer["unit"] == "W" and answer["bucket"] == "1m"
    buckets = answer["buckets"]
    assert len(buckets) == 60
    assert buckets[0] == {"start": start.isoformat(), "min": 0.0, "max": 2.0, "avg": 1.0, "count": 3}
    assert buckets[-1]["max"] == 179.0
