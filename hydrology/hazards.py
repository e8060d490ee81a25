"""Hazard points: the culverts, underpasses and low roads that flood, as objects of their own.

A hazard point has its gauges (devices tagged ``hazard=<id>``), its datum (the elevation of its
floor, metres), the depth at which cars must not pass, its own warning levels (depth in mm) and a
landmark that tells a duty officer where it is; the alerts of its gauges name it.
Its state is its deepest gauge's latest reading; :func:`apply_levels` gives its gauges the
point's levels as their registry thresholds, so the flood rules (``threshold``, ``projected``)
judge each gauge by the point it watches.

>>> point = HazardPoint("XJH-UP", "Xujiahui underpass", "underpass", 3.2, 300.0,
...                     {"yellow": 150.0, "orange": 250.0, "red": 400.0})
>>> state = point.state({"CG-1": 262.0, "CG-2": 240.0})
>>> state.level, state.passable, round(state.surface_m, 3)
('orange', True, 3.462)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from device_registry import Device, DeviceFilter, Registry
from hydrology.errors import HydrologyError
from hydrology.sections import SECTION_ID_PATTERN, utc_text
from streetwatch.database import Database, IntegrityError, Row
from streetwatch.figures import show

HAZARD_TAG = "hazard"
LEVEL_METRIC = "water_level_mm"
GAUGE_KIND = "culvert_gauge"
HazardKind = Literal["culvert", "underpass", "low_road"]
HAZARD_KINDS: tuple[HazardKind, ...] = ("culvert", "underpass", "low_road")
LEVEL_NAMES = ("blue", "yellow", "orange", "red")


class HazardError(HydrologyError):
    """A hazard point that cannot be added or is not there."""


@dataclass(frozen=True, slots=True)
class HazardState:
    depth_mm: float | None
    deepest_gauge: str | None
    level: str | None
    passable: bool | None
    surface_m: float | None


@dataclass(frozen=True, slots=True)
class HazardPoint:
    id: str
    name: str
    kind: HazardKind
    datum_m: float | None
    no_pass_mm: float
    levels: Mapping[str, float]
    landmark: str = ""

    def __post_init__(self) -> None:
        if not SECTION_ID_PATTERN.fullmatch(self.id):
            raise HazardError(f"hazard point id {self.id!r}: letters, digits, '.', '_', ':', '-', at most 64")
        if self.kind not in HAZARD_KINDS:
            raise HazardError(f"kind {self.kind!r}: one of {', '.join(HAZARD_KINDS)}")
        if self.no_pass_mm <= 0:
            raise HazardError("the no-pass depth must be above 0 mm")
        ordered = [(name, self.levels[name]) for name in LEVEL_NAMES if name in self.levels]
        for (low_name, low), (high_name, high) in itertools.pairwise(ordered):
            if high <= low:
                raise HazardError(f"level {high_name} {show(high)} must be above {low_name} {show(low)}")

    def state(self, depths: Mapping[str, float]) -> HazardState:
        """The point now, from its gauges' latest depths (gauge id → mm)."""
        if not depths:
            return HazardState(None, None, None, None, None)
        gauge, depth = max(depths.items(), key=lambda item: item[1])
        reached = [name for name in LEVEL_NAMES if name in self.levels and depth > self.levels[name]]
        surface = None if self.datum_m is None else self.datum_m + depth / 1000.0
        return HazardState(depth, gauge, reached[-1] if reached else None, depth < self.no_pass_mm, surface)


class HazardStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, point: HazardPoint, *, now: datetime) -> None:
        try:
            await self._db.execute(
                "INSERT INTO hazard_points (id, name, kind, datum_m, no_pass_mm, levels, landmark, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (point.id, point.name, point.kind, point.datum_m, point.no_pass_mm, json.dumps(dict(point.levels)),
                 point.landmark, utc_text(now)))
        except IntegrityError:
            raise HazardError(f"hazard point {point.id!r} already exists") from None

    async def list(self) -> list[HazardPoint]:
        rows = await self._db.fetch_all(
            "SELECT id, name, kind, datum_m, no_pass_mm, levels, landmark FROM hazard_points ORDER BY id")
        return [_point(row) for row in rows]

    async def require(self, point_id: str) -> HazardPoint:
        found = [p for p in await self.list() if p.id == point_id]
        if not found:
            raise HazardError(f"no hazard point {point_id!r} (streetwatch water hazard list shows them)")
        return found[0]


def _point(row: Row) -> HazardPoint:
    return HazardPoint(row["id"], row["name"], row["kind"], row["datum_m"], float(row["no_pass_mm"]),
                       {k: float(v) for k, v in json.loads(row["levels"]).items()}, row["landmark"] or "")


class Tagged(Protocol):
    """Anything with a device id and tags: a registry ``Device`` or the gateway's compact entry."""

    @property
    def id(self) -> str: ...

    @property
    def tags(self) -> Mapping[str, str]: ...


def watched_by(points: Sequence[HazardPoint], devices: Iterable[Tagged]) -> dict[str, HazardPoint]:
    """The hazard point each device watches (device id → point), from the devices' ``hazard`` tags."""
    by_id = {point.id: point for point in points}
    return {d.id: by_id[d.tags[HAZARD_TAG]] for d in devices if d.tags.get(HAZARD_TAG) in by_id}


async def gauges_of(registry: Registry, point_ids: Sequence[str]) -> dict[str, list[Device]]:
    """The culvert gauges tagged ``hazard=<id>`` of each point."""
    out: dict[str, list[Device]] = {point_id: [] for point_id in point_ids}
    for device in await registry.list(DeviceFilter(kind=GAUGE_KIND)):
        point_id = device.tags.get(HAZARD_TAG)
        if point_id in out:
            out[point_id].append(device)
    return out


async def apply_levels(registry: Registry, point: HazardPoint, gauges: Sequence[Device], *, by: str) -> list[str]:
    """Give each gauge the point's levels as its ``water_level_mm`` thresholds; the ids changed."""
    changed = []
    for device in gauges:
        own = dict(device.thresholds.get(LEVEL_METRIC, {}))
        wanted = {**own, **point.levels}
        if wanted == own:
            continue
        after = device.model_copy(update={"thresholds": {**device.thresholds, LEVEL_METRIC: wanted}})
        await registry.replace(device, after, by=by, note=f"levels of hazard point {point.id}")
        changed.append(device.id)
    return changed
