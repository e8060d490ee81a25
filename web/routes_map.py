"""``/api/v1/map``: every device of the caller's areas with its map state, in columns, for the console's map.

GeoJSON repeats every key for every device: 100,000 devices make about 25 MB of it. The map needs five
values per device, so they travel as parallel arrays with the kinds, states and areas named once
(about 4 MB for 100,000 devices, under 1 MB compressed).

For example, ``GET /api/v1/map?kind=lamp_controller&state=fault`` answers::

    {"count": 2, "ids": ["LP-1", "LP-7"], "lon": [...], "lat": [...], "kind": [0, 0], "state": [3, 3],
     "area": [1, 1], "kinds": ["lamp_controller"], "states": [...], "areas": [...]}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from device_registry import Device
from people import ROOT_AREA, Permission
from web.auth import Access, authorized, services_of
from web.map_state import COMMON_STATES, LAMP_STATES, gather, is_lamp
from web.routes_devices import AREA
from web.routes_devices import _filter as device_filter  # the same filters as /devices, one definition

router = APIRouter(prefix="/api/v1", tags=["areas and devices"])
READ = Depends(authorized(Permission.read))
_COORDINATE_DIGITS = 6  # about 0.1 m: enough for a map, and a third shorter than a full float


class _Index:
    """Names to small integers, in the order first seen."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self.names: list[str] = list(names)
        self._at = {name: i for i, name in enumerate(self.names)}

    def of(self, name: str) -> int:
        found = self._at.get(name)
        if found is None:
            found = self._at[name] = len(self.names)
            self.names.append(name)
        return found


@router.get("/map", summary="Every device of the caller's areas with its map state, as parallel arrays")
async def device_map(request: Request, area: str | None = AREA, kind: str | None = None,
                     state: list[str] = Query([], description="only these states (on, dimmed, off, fault, "
                                                              "offline, unknown, normal, or a severity); repeatable"),
                     access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    where = await device_filter(request, access, area, kind, None, [])
    devices: list[Device] = await services.registry.list(where)
    evidence = await gather(services.db, services.alerts, services.store,
                            [d.id for d in devices if is_lamp(d.kind)])
    wanted = set(state)
    kinds, states, areas = _Index(), _Index((*LAMP_STATES, *COMMON_STATES)), _Index()
    columns: dict[str, list[Any]] = {"ids": [], "lon": [], "lat": [], "kind": [], "state": [], "area": []}
    for device in devices:
        device_state = evidence.state_of(device.id, device.kind)
        if wanted and device_state not in wanted:
            continue
        columns["ids"].append(device.id)
        columns["lon"].append(round(device.location.longitude, _COORDINATE_DIGITS))
        columns["lat"].append(round(device.location.latitude, _COORDINATE_DIGITS))
        columns["kind"].append(kinds.of(device.kind))
        columns["state"].append(states.of(device_state))
        columns["area"].append(areas.of(device.area or ROOT_AREA))
    return {"count": len(columns["ids"]), **columns,
            "kinds": kinds.names, "states": states.names, "areas": areas.names}
