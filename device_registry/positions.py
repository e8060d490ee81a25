"""Where every device stands, as parallel columns: one query of plain columns, no document decoded.

For views of the whole fleet at once (the console's map of 100,000 devices), where building a
:class:`~device_registry.device.Device` for each would cost seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from device_registry.query import DeviceFilter
from streetwatch.database import Database


@dataclass(slots=True)
class Positions:
    """Devices by id, each column in the same order; ``area`` ``''`` is the root."""

    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


async def read_positions(db: Database, where: DeviceFilter | None = None) -> Positions:
    condition, params = (where or DeviceFilter()).where()
    rows = await db.fetch_all(
        f"SELECT d.id, d.kind, d.area, d.lat, d.lon FROM devices d WHERE {condition} ORDER BY d.id", params)
    found = Positions()
    for row in rows:
        found.ids.append(row["id"])
        found.kinds.append(row["kind"])
        found.areas.append(row["area"])
        found.lat.append(row["lat"])
        found.lon.append(row["lon"])
    return found
