"""Which areas a command touches: the areas of the devices it was delivered to.

The API shows a command to whoever may see one of its devices, and lets only those who may act in
every one of its areas cancel it. These queries join the control package's deliveries to the registry.
"""

from __future__ import annotations

from streetwatch.database import Database


async def areas_of_command(db: Database, command_id: int) -> frozenset[str]:
    rows = await db.fetch_all(
        "SELECT DISTINCT v.area FROM control_deliveries d JOIN devices v ON v.id = d.device_id "
        "WHERE d.command_id = ?", (command_id,))
    return frozenset(str(row["area"]) for row in rows)


async def commands_in_areas(db: Database, areas: frozenset[str] | None, *, limit: int) -> list[int]:
    """The newest command ids with a device in ``areas`` (None: every command)."""
    if areas is None:
        rows = await db.fetch_all("SELECT id FROM control_commands ORDER BY id DESC LIMIT ?", (limit,))
    elif not areas:
        return []
    else:
        marks = ", ".join("?" * len(areas))
        rows = await db.fetch_all(
            f"SELECT DISTINCT d.command_id AS id FROM control_deliveries d JOIN devices v ON v.id = d.device_id "
            f"WHERE v.area IN ({marks}) ORDER BY d.command_id DESC LIMIT ?", (*sorted(areas), limit))
    return [int(row["id"]) for row in rows]
