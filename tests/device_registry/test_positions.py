"""Every device's position as columns (the console's map): kept current by every write, on both stores."""

from __future__ import annotations

import pytest

from device_registry import DeviceFilter, Registry, device_from_fields
from device_registry.schema import COMPONENT, MIGRATIONS
from streetwatch.migrations import migrate
from tests.device_registry.conftest import GAUGE, LAMP

pytestmark = pytest.mark.services


async def test_positions_follow_adds_updates_and_filters(registry: Registry) -> None:
    await registry.add(device_from_fields({**LAMP, "area": "jingtai"}), by="alice")
    await registry.add(device_from_fields(GAUGE), by="alice")
    found = await registry.positions()
    assert (found.ids, found.kinds, found.areas) == (
        ["CG-TH-0007", "LP-BY-000123"], ["culvert_gauge", "lamp_controller"], ["", "jingtai"])
    assert (found.lat, found.lon) == ([23.14, 23.1291], [113.33, 113.2644])
    await registry.update("LP-BY-000123", {"lat": "23.2", "lon": "113.1"}, by="alice")
    lamps = await registry.positions(DeviceFilter(kind="lamp_controller"))
    assert (lamps.ids, lamps.lat, lamps.lon) == (["LP-BY-000123"], [23.2], [113.1])
    assert len(await registry.positions(DeviceFilter(areas=frozenset({"jingtai"})))) == 1
    assert len(await registry.positions(DeviceFilter(areas=frozenset()))) == 0


async def test_the_migration_fills_positions_from_the_documents(registry: Registry) -> None:
    await registry.add(device_from_fields(LAMP), by="alice")
    # As a database registered before the columns existed: the columns empty, migration 3 not applied.
    await registry.db.execute("UPDATE devices SET lat = NULL, lon = NULL")
    await registry.db.execute("DELETE FROM schema_migrations WHERE component = ? AND version = 3", (COMPONENT,))
    for statement in ("ALTER TABLE devices DROP COLUMN lat", "ALTER TABLE devices DROP COLUMN lon"):
        await registry.db.execute(statement)
    assert [m.version for m in await migrate(registry.db, MIGRATIONS)] == [3]
    found = await registry.positions()
    assert (found.lat, found.lon) == ([23.1291], [113.2644])


async def _landmarks(registry: Registry) -> dict[str, str]:
    return {row["id"]: row["landmark"] for row in await registry.db.fetch_all("SELECT id, landmark FROM devices")}


async def test_the_landmark_column_follows_adds_and_updates(registry: Registry) -> None:
    await registry.add(device_from_fields(LAMP), by="alice")
    await registry.add(device_from_fields(GAUGE), by="alice")
    assert await _landmarks(registry) == {"LP-BY-000123": "", "CG-TH-0007": "Tianhe Rd underpass"}
    await registry.update("LP-BY-000123", {"landmark": "Jingtai Rd 12"}, by="alice")
    assert (await _landmarks(registry))["LP-BY-000123"] == "Jingtai Rd 12"


async def test_the_migration_fills_landmarks_from_the_documents(registry: Registry) -> None:
    await registry.add(device_from_fields(GAUGE), by="alice")
    await registry.add(device_from_fields(LAMP), by="alice")
    # As a database registered before the column existed: migration 4 not applied.
    await registry.db.execute("DELETE FROM schema_migrations WHERE component = ? AND version = 4", (COMPONENT,))
    await registry.db.execute("ALTER TABLE devices DROP COLUMN landmark")
    assert [m.version for m in await migrate(registry.db, MIGRATIONS)] == [4]
    assert await _landmarks(registry) == {"LP-BY-000123": "", "CG-TH-0007": "Tianhe Rd underpass"}
