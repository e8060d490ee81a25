"""The API speaks of an alert's hazard point and its projection (``hazard_point``, ``projection``)."""

from __future__ import annotations

import pytest

from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition, HazardPlace
from streetwatch.database import Database
from tests.web.world import World

pytestmark = pytest.mark.services


def test_an_alert_shows_its_hazard_point_and_projection(world: World) -> None:
    place = HazardPlace("JT-CV", "Jingtai Road culvert", "under the Jingtai Rd rail bridge")
    context = {"level_now": 650.2, "rise_per_min": 20.04, "eta_s": 449.1, "earliest_s": 413.7,
               "latest_s": float("inf")}

    async def work(db: Database) -> int:
        change = await AlertStore(db).apply(AlertTransition(
            990_001, AlertEvent.raised, "underpass-projected", "LP-IN-1", "red", None, world.clock.now(),
            metric="water_level_mm", value=650.2, threshold=800.0, context=context, hazard=place,
            message=f"{place.title}: water_level_mm 650.2 rising 20.04 per min: red level 800 in about 7.5 min"))
        assert change is not None
        return change.alert.id

    alert_id = world.run(work)
    with world.client("viewer") as client:
        shown = client.get(f"/api/v1/alerts/{alert_id}").json()
        listed = client.get("/api/v1/alerts").json()["alerts"]
    assert shown["hazard_point"] == {"id": "JT-CV", "name": "Jingtai Road culvert",
                                     "landmark": "under the Jingtai Rd rail bridge"}
    assert shown["projection"] == {"level": 800.0, "level_now": 650.2, "rise_per_min": 20.04, "eta_s": 449.1,
                                   "earliest_s": 413.7, "latest_s": None}  # no upper bound: maybe never
    assert shown["message"].startswith("Jingtai Road culvert (under the Jingtai Rd rail bridge): ")
    others = [a for a in listed if a["id"] != alert_id]
    assert [a["hazard_point"] for a in listed if a["id"] == alert_id] == [shown["hazard_point"]]
    assert all(a["hazard_point"] is None and a["projection"] is None for a in others)
