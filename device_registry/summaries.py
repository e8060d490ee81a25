"""Devices as listings show them, read straight from the stored documents: no model built, nothing re-validated.

The registry validated each document when it wrote it, so a listing of thousands (an API page of a
street, the whole fleet as GeoJSON) decodes only the fields it shows, with msgspec: about 20 times
faster than building a :class:`~device_registry.device.Device` for each (whose checks of hosts, ids and
groups dominate the time of a large listing).
"""

from __future__ import annotations

import builtins

import msgspec

from device_registry.query import DeviceFilter
from streetwatch.database import Database


class SummaryAddress(msgspec.Struct, frozen=True):
    transport: str


class SummaryLocation(msgspec.Struct, frozen=True):
    latitude: float
    longitude: float
    landmark: str = ""


class DeviceSummary(msgspec.Struct, frozen=True):
    """What a listing shows of a device; never its address beyond the transport (it may hold credentials)."""

    id: str
    kind: str
    profile: str
    address: SummaryAddress
    location: SummaryLocation
    site: str = ""
    area: str = ""
    groups: builtins.list[str] = []
    tags: dict[str, str] = {}
    status: str = "registered"


_DECODER = msgspec.json.Decoder(DeviceSummary)


async def read_summaries(db: Database, where: DeviceFilter | None = None, *, after: str | None = None,
                         limit: int | None = None) -> list[DeviceSummary]:
    """Devices matching ``where``, by id, paged as :meth:`Registry.list <device_registry.Registry.list>` pages."""
    condition, params = (where or DeviceFilter()).where()
    if after is not None:
        condition += " AND d.id > ?"
        params = [*params, after]
    tail = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = await db.fetch_all(f"SELECT d.doc FROM devices d WHERE {condition} ORDER BY d.id{tail}", params)
    decode = _DECODER.decode
    return [decode(row["doc"]) for row in rows]
