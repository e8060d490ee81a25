"""The monthly duty report of an area (and every area under it): alerts by severity, how fast they were
acknowledged (median and 90th percentile), how many never were, task orders by state and SLA breaches.

>>> percentile([60.0, 120.0, 180.0, 240.0, 300.0], 50), percentile([60.0, 120.0, 180.0, 240.0, 300.0], 90)
(180.0, 276.0)
"""

from __future__ import annotations

import math
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from device_registry import Registry
from duty.roster import Roster
from people import ROOT_AREA
from rules.alert_rows import alert_from_row, time_param
from rules.alerts import Alert


def percentile(values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class DutyReport:
    area: str
    month: str
    alerts_by_severity: dict[str, int]
    acknowledged: int
    unacknowledged: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolve_median_s: float | None
    tasks_by_state: dict[str, int]
    sla_breaches: int


def month_bounds(month: str, zone: str) -> tuple[datetime, datetime]:
    """The first instants of ``month`` (YYYY-MM) and of the next, in ``zone``."""
    first = date.fromisoformat(f"{month}-01")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    tz = zoneinfo.ZoneInfo(zone)
    return datetime(first.year, first.month, 1, tzinfo=tz), datetime(following.year, following.month, 1, tzinfo=tz)


async def duty_report(roster: Roster, registry: Registry, area: str, month: str) -> DutyReport:
    start, end = month_bounds(month, await roster.zone(area))
    areas = await roster.areas.subtree_ids([area])
    db = roster.db
    rows = await db.fetch_all("SELECT * FROM alerts WHERE raised_at >= ? AND raised_at < ? ORDER BY id",
                              (time_param(db, start), time_param(db, end)))
    alerts = [alert_from_row(row) for row in rows]
    devices = await registry.get_many(a.device_id for a in alerts)

    def in_area(alert: Alert) -> bool:
        device = devices.get(alert.device_id)
        return (device.area or ROOT_AREA if device is not None else ROOT_AREA) in areas

    mine = [a for a in alerts if in_area(a)]
    to_ack = [(a.acknowledged_at - a.raised_at).total_seconds() for a in mine if a.acknowledged_at is not None]
    to_resolve = [(a.closed_at - a.raised_at).total_seconds() for a in mine if a.closed_at is not None]
    marks = ", ".join("?" for _ in areas) or "NULL"
    task_rows = await db.fetch_all(
        f"SELECT state, sla_breached_at FROM duty_tasks WHERE area IN ({marks}) AND created_at >= ? AND created_at < ?",
        (*sorted(areas), time_param(db, start), time_param(db, end)))
    return DutyReport(
        area, month, dict(sorted(Counter(a.peak_severity for a in mine).items())), len(to_ack),
        len(mine) - len(to_ack), percentile(to_ack, 50), percentile(to_ack, 90), percentile(to_resolve, 50),
        dict(sorted(Counter(str(r["state"]) for r in task_rows).items())),
        sum(1 for r in task_rows if r["sla_breached_at"] is not None))
