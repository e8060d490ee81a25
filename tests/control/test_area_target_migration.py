"""Control migrations 3 and 4 let a command target an area, then a selection; older commands are kept."""

from __future__ import annotations

import pytest

from control import MIGRATIONS, Action, CommandStore, CommandTarget
from streetwatch.config import DatabaseUrl
from streetwatch.database import DatabaseError, open_database
from streetwatch.migrations import migrate

pytestmark = pytest.mark.services


async def test_area_targets_after_migration_3_with_older_commands_kept(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrate(db, MIGRATIONS[:2])
        store = CommandStore(db)
        old = await store.create(CommandTarget("group", "riverside"), Action.set_dim, {"level_pct": 30},
                                 ["LP-1", "LP-2"], requester="li", reason="", ttl_s=60)
        with pytest.raises(DatabaseError):
            await store.create(CommandTarget("area", "jingtai"), Action.set_dim, {"level_pct": 30}, ["LP-1"],
                               requester="li", reason="", ttl_s=60)
        await migrate(db, MIGRATIONS)
        assert [d.device_id for d in await store.deliveries(old.id)] == ["LP-1", "LP-2"]
        new = await store.create(CommandTarget("area", "jingtai"), Action.set_dim, {"level_pct": 50}, ["LP-1"],
                                 requester="li", reason="", ttl_s=60)
        assert new.id > old.id
        assert str((await store.command(new.id)).target) == "area:jingtai"
        # Latest wins across the rebuilt tables: the older open delivery to LP-1 is superseded.
        assert {d.device_id: d.status.value for d in await store.deliveries(old.id)} == {
            "LP-1": "superseded", "LP-2": "queued"}
        await store.cancel(new.id)  # the foreign key still cascades and the store still works
        assert [d.status.value for d in await store.deliveries(new.id)] == ["cancelled"]


async def test_selection_targets_after_migration_4_with_older_commands_kept(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrate(db, MIGRATIONS[:3])
        store = CommandStore(db)
        old = await store.create(CommandTarget("area", "jingtai"), Action.set_dim, {"level_pct": 30},
                                 ["LP-1", "LP-2"], requester="li", reason="", ttl_s=60)
        with pytest.raises(DatabaseError):
            await store.create(CommandTarget("selection", "2 devices"), Action.set_dim, {"level_pct": 30},
                               ["LP-1", "LP-3"], requester="li", reason="", ttl_s=60)
        await migrate(db, MIGRATIONS)
        assert [d.device_id for d in await store.deliveries(old.id)] == ["LP-1", "LP-2"]
        new = await store.create(CommandTarget("selection", "2 devices"), Action.switch, {"on": True},
                                 ["LP-1", "LP-3"], requester="li", reason="", ttl_s=60)
        assert str((await store.command(new.id)).target) == "selection:2 devices"
        assert [d.device_id for d in await store.deliveries(new.id)] == ["LP-1", "LP-3"]
        await store.cancel(new.id)
        assert [d.status.value for d in await store.deliveries(new.id)] == ["cancelled", "cancelled"]
