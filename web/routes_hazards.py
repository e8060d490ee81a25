"""``/api/v1/hazards``: the flood hazard points of the caller's areas and their lamp groups, for the console's map.

A hazard point is a row of ``streetwatch water hazard`` (its gauges are tagged ``hazard=<id>``) or a lamp group
named ``hazard-*`` that a gauge belongs to (the group a red flood alert lights). Each comes with its gauges'
positions, its level now (the deepest gauge against the point's levels), and the outline of its lamp group:
the convex hull of the group's lamps, as ``[lon, lat]`` pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request

from device_registry import Device, DeviceFilter
from hydrology.hazards import GAUGE_KIND, HAZARD_TAG, LEVEL_METRIC, HazardPoint, HazardStore
from people import Permission
from web.auth import Access, authorized, services_of
from web.models import ERROR_RESPONSES
from web.services import Services

router = APIRouter(prefix="/api/v1", tags=["water"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
GROUP_PREFIX = "hazard-"
GROUP_TAG = "hazard_group"
Point = tuple[float, float]


@dataclass
class _Hazard:
    id: str
    name: str
    kind: str
    point: HazardPoint | None = None
    gauges: list[Device] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)


def convex_hull(points: Sequence[Point]) -> list[Point]:
    """The convex hull, counter-clockwise (Andrew's monotone chain); fewer than three points come back as given.

    >>> convex_hull([(0, 0), (2, 0), (1, 1), (2, 2), (0, 2)])
    [(0, 0), (2, 0), (2, 2), (0, 2)]
    """
    ordered = sorted(set(points))
    if len(ordered) < 3:
        return ordered

    def half(chain: Sequence[Point]) -> list[Point]:
        out: list[Point] = []
        for p in chain:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return half(ordered) + half(ordered[::-1])


def _groups_of(gauge: Device) -> set[str]:
    named = {g for g in gauge.groups if g.startswith(GROUP_PREFIX)}
    tagged = gauge.tags.get(GROUP_TAG)
    return named | ({tagged} if tagged else set())


async def _hazards(services: Services, access: Access) -> list[_Hazard]:
    """The hazard points with a gauge in the caller's areas, named points first, then the hazard-* groups."""
    points = {p.id: p for p in await HazardStore(services.db).list()}
    found: dict[str, _Hazard] = {}
    for gauge in await services.registry.list(DeviceFilter(kind=GAUGE_KIND, areas=access.device_areas())):
        point = points.get(gauge.tags.get(HAZARD_TAG, ""))
        groups = _groups_of(gauge)
        if point is not None:
            key = point.id
            hazard = found.setdefault(key, _Hazard(point.id, point.name, point.kind, point))
        elif groups:
            key = min(groups)
            hazard = found.setdefault(key, _Hazard(key, key, "group"))
        else:
            continue
        hazard.gauges.append(gauge)
        hazard.groups |= groups
    return sorted(found.values(), key=lambda h: (h.point is None, h.id))


@router.get("/hazards", summary="Flood hazard points of the caller's areas: gauges, level now, and the outline "
                                "of their lamp groups")
async def hazards(request: Request, access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    out = []
    for hazard in await _hazards(services, access):
        lamps: dict[str, Device] = {}
        for group in sorted(hazard.groups):
            lamps.update((d.id, d) for d in await services.registry.list(
                DeviceFilter(group=group, areas=access.device_areas())) if d.kind != GAUGE_KIND)
        latest = await services.store.latest([g.id for g in hazard.gauges])
        depths = {v.device_id: v.value for v in latest if v.metric == LEVEL_METRIC}
        level = hazard.point.state(depths).level if hazard.point is not None else None
        gauges = [{"id": g.id, "lon": g.location.longitude, "lat": g.location.latitude,
                   "depth_mm": depths.get(g.id)} for g in hazard.gauges]
        hull = convex_hull([(d.location.longitude, d.location.latitude) for d in lamps.values()])
        out.append({"id": hazard.id, "name": hazard.name, "kind": hazard.kind, "level": level,
                    "groups": sorted(hazard.groups), "lamps": len(lamps), "gauges": gauges,
                    "hull": [[lon, lat] for lon, lat in hull]})
    return {"hazards": out}
