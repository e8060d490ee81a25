"""The energy report: per lamp and day from the stored ``energy_kwh`` counters, summed per group or site.

The readings come from anything with the telemetry store's ``history`` (raw readings of one
series); the schedule a lamp follows gives its hours on, its rated power (the ``rated_power_w``
tag, else ``[control] rated_power_w``) what full power would have used.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol

from control.energy import daily_energy, hours_on, saving
from control.schedule import Schedule
from device_registry import Device
from streetwatch.readings import Reading

METRIC = "energy_kwh"
# Read a little past the range, so that use across the first and last midnight is split right.
MARGIN = timedelta(hours=6)
GroupBy = Literal["lamp", "group", "site"]


class CounterHistory(Protocol):
    async def history(self, device_id: str, metric: str, start: datetime, end: datetime) -> list[Reading]: ...


@dataclass(frozen=True, slots=True)
class LampDay:
    device: Device
    day: date
    kwh: float
    full_power_kwh: float | None
    resets: int
    rejected: int


def rated_power_w(device: Device, default_w: float) -> float:
    try:
        value = float(device.tags.get("rated_power_w", default_w))
    except ValueError:
        return default_w
    return value if value > 0 else default_w


async def lamp_days(source: CounterHistory, devices: Sequence[Device], first: date, last: date,
                    zone: zoneinfo.ZoneInfo, *, schedule_of: Callable[[Device], Schedule | None],
                    default_rated_power_w: float) -> list[LampDay]:
    """Each lamp's energy on each day from ``first`` to ``last`` (local, inclusive) it has data for."""
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    rows = []
    for device in devices:
        readings = await source.history(device.id, METRIC, start - MARGIN, end + MARGIN)
        rated_w = rated_power_w(device, default_rated_power_w)
        days = daily_energy([(r.ts, r.value) for r in readings], zone, max_power_w=rated_w)
        schedule = schedule_of(device)
        for day, energy in days.items():
            if not first <= day <= last:
                continue
            full = None
            if schedule is not None:
                on = hours_on(schedule, day, device.location.latitude, device.location.longitude, zone)
                full = saving(energy.kwh, rated_w, on).full_power_kwh
            rows.append(LampDay(device, day, energy.kwh, full, energy.resets, energy.rejected))
    return rows


def _scopes(device: Device, by: GroupBy) -> list[str]:
    if by == "lamp":
        return [device.id]
    if by == "site":
        return [device.site or "(no site)"]
    return list(device.groups) or ["(no group)"]


def summarise(rows: Sequence[LampDay], by: GroupBy) -> list[dict[str, Any]]:
    """Rows per (scope, day), then a ``total`` row per scope over the whole range.

    The saving is shown only where every lamp of the row follows a schedule (else its hours on,
    and so full-power use, are unknown).
    """
    lamps: dict[tuple[str, str], set[str]] = defaultdict(set)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0, 0])
    for row in rows:
        for scope in _scopes(row.device, by):
            for key in ((scope, row.day.isoformat()), (scope, "total")):
                lamps[key].add(row.device.id)
                part = sums[key]
                part[0] += row.kwh
                if row.full_power_kwh is None:
                    part[2] += 1
                else:
                    part[1] += row.full_power_kwh
                part[3] += row.resets
                part[4] += row.rejected
    out = []
    for key in sorted(sums, key=lambda k: (k[0], k[1] == "total", k[1])):
        used, full, unknown, resets, rejected = sums[key]
        known = full if unknown == 0 else None
        out.append({
            by: key[0], "day": key[1], "lamps": len(lamps[key]), "kwh": round(used, 3),
            "full_power_kwh": None if known is None else round(known, 3),
            "saved_kwh": None if known is None else round(known - used, 3),
            "saved_pct": None if not known else round(100 * (known - used) / known, 1),
            "resets": int(resets), "rejected": int(rejected),
        })
    return out
