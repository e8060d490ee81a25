"""The gateway tells the rules which hazard point each device watches, from the registry's ``hazard`` tags
and the ``hazard_points`` table, and again whenever asked after a change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from gateway.composition.services import HazardPlaces
from hydrology import MIGRATIONS, HazardPoint, HazardStore
from rules.alerts import HazardPlace
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from streetwatch.migrations import migrate
from tests.rules.support import device

NOW = datetime(2026, 7, 1, tzinfo=UTC)


class _Rules:
    places: Mapping[str, HazardPlace] = {}

    def update_places(self, places: Mapping[str, HazardPlace]) -> None:
        self.places = places


async def test_the_rules_learn_each_gauges_hazard_point(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrate(db, MIGRATIONS)
        store = HazardStore(db)
        await store.add(HazardPoint("XJH-UP", "Xujiahui underpass", "underpass", 3.2, 300.0, {"red": 400.0},
                                    "Zhaojiabang Rd at Tianyaoqiao Rd"), now=NOW)
        devices = {d.id: d for d in (device("CG-1", tags={"hazard": "XJH-UP"}), device("CG-2", tags={"hazard": "NOPE"}),
                                     device("CG-3"))}
        ctx: Any = SimpleNamespace(db=db, directory=SimpleNamespace(devices=devices))
        rules: Any = _Rules()
        places = HazardPlaces(ctx, rules)
        await places.refresh()
        assert rules.places == {"CG-1": HazardPlace("XJH-UP", "Xujiahui underpass", "Zhaojiabang Rd at Tianyaoqiao Rd")}
        # A gauge tagged to the point later (the registry changed): it names the point from the next refresh on.
        await store.add(HazardPoint("LR-9", "Low road 9", "low_road", None, 200.0, {}), now=NOW)
        devices["CG-3"] = device("CG-3", tags={"hazard": "LR-9"})
        await places.refresh()
        assert rules.places["CG-3"] == HazardPlace("LR-9", "Low road 9", "")
        assert set(rules.places) == {"CG-1", "CG-3"}
