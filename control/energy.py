"""Daily energy from lamp energy counters, and the saving against running at full power.

A controller's ``energy_kwh`` is a counter: it only goes up, except when it restarts (a
replaced controller, a memory loss, a wrap). Pure functions, no I/O:

- :func:`daily_energy` sums the increases between successive samples; a drop is a restart, and
  the new value is what was used since it. With ``max_power_w`` an increase the lamp could not
  have drawn in the time between two samples is a bad sample: it is left out and counted, and
  the series goes on from the last good value (if the following samples confirm the new level,
  it becomes the new base without counting the jump). An increase between two samples is spread
  over local days in proportion to time, so a gap over midnight lands on both days.
  A restart that ends above the old value (the counter restarted and used more, between two
  samples, than it held before) cannot be told from use: poll more often than that.
- :func:`hours_on` is how long a schedule keeps a lamp on during a local day;
  :func:`saving` compares what was used with ``rated_power_w × hours_on``.

>>> from datetime import UTC, datetime
>>> import zoneinfo
>>> samples = [(datetime(2026, 3, 1, h, tzinfo=UTC), v) for h, v in ((0, 10.0), (6, 10.4), (12, 0.1), (18, 0.3))]
>>> day = daily_energy(samples, zoneinfo.ZoneInfo("UTC"))[date(2026, 3, 1)]
>>> round(day.kwh, 3), day.resets
(0.7, 1)
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from control.schedule import Schedule
from control.timeline import setpoint_at, timeline

# A meter's own resolution (0.01 kWh on the reference controller) must not read as a jump.
COUNTER_RESOLUTION_KWH = 0.01
PLAUSIBILITY_MARGIN = 1.25


@dataclass(frozen=True, slots=True)
class DayEnergy:
    """One device's energy on one local day."""

    day: date
    kwh: float
    resets: int = 0
    rejected: int = 0


@dataclass
class _Day:
    kwh: float = 0.0
    resets: int = 0
    rejected: int = 0


def _midnight_after(ts: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    local_day = ts.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(local_day, time(0), zone).astimezone(UTC)


def _spread(days: dict[date, _Day], start: datetime, end: datetime, kwh: float, zone: zoneinfo.ZoneInfo) -> None:
    """Add ``kwh`` used between ``start`` and ``end`` to the local days, in proportion to time."""
    total = (end - start).total_seconds()
    cursor = start
    while cursor < end:
        boundary = min(_midnight_after(cursor, zone), end)
        share = (boundary - cursor).total_seconds() / total if total > 0 else 1.0
        days.setdefault(cursor.astimezone(zone).date(), _Day()).kwh += kwh * share
        cursor = boundary
    if total <= 0:
        days.setdefault(end.astimezone(zone).date(), _Day()).kwh += kwh


def _plausible(increase: float, start: datetime, end: datetime, max_power_w: float | None) -> bool:
    if max_power_w is None:
        return True
    hours = (end - start).total_seconds() / 3600
    return increase <= max_power_w * PLAUSIBILITY_MARGIN * hours / 1000 + COUNTER_RESOLUTION_KWH


def daily_energy(samples: Iterable[tuple[datetime, float]], zone: zoneinfo.ZoneInfo, *,
                 max_power_w: float | None = None) -> dict[date, DayEnergy]:
    """kWh per local day from counter samples (any order; repeated times count once)."""
    ordered = sorted(dict(samples).items())
    days: dict[date, _Day] = {}
    if not ordered:
        return {}
    base_ts, base = ordered[0]
    days.setdefault(base_ts.astimezone(zone).date(), _Day())
    suspect: tuple[datetime, float] | None = None
    for ts, value in ordered[1:]:
        days.setdefault(ts.astimezone(zone).date(), _Day())
        if suspect is not None:
            suspect_ts, suspect_value = suspect
            fits_base = value >= base and _plausible(value - base, base_ts, ts, max_power_w)
            fits_suspect = value >= suspect_value and _plausible(value - suspect_value, suspect_ts, ts, max_power_w)
            suspect = None
            if not fits_base and fits_suspect:
                base_ts, base = suspect_ts, suspect_value  # a real jump (a swapped meter): the new base
        increase = value - base
        if increase < 0:
            restarted = _plausible(value, base_ts, ts, max_power_w)
            days[ts.astimezone(zone).date()].resets += 1
            if restarted:
                _spread(days, base_ts, ts, value, zone)
            base_ts, base = ts, value
            continue
        if not _plausible(increase, base_ts, ts, max_power_w):
            days[ts.astimezone(zone).date()].rejected += 1
            suspect = (ts, value)  # keep the last good value as the base until we know more
            continue
        _spread(days, base_ts, ts, increase, zone)
        base_ts, base = ts, value
    return {day: DayEnergy(day, parts.kwh, parts.resets, parts.rejected) for day, parts in sorted(days.items())}


def hours_on(schedule: Schedule, day: date, latitude: float, longitude: float, zone: zoneinfo.ZoneInfo) -> float:
    """Hours in the local day ``day`` during which the schedule has the lamp on (above 0 %)."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    changes = sorted(
        step.at for lighting in (day - timedelta(days=1), day)
        for step in timeline(schedule, lighting, latitude, longitude, zone) if start < step.at < end)
    on_s = 0.0
    cursor = start
    for at in [*changes, end]:
        if setpoint_at(schedule, cursor, latitude, longitude, zone) > 0:
            on_s += (at - cursor).total_seconds()
        cursor = at
    return on_s / 3600


@dataclass(frozen=True, slots=True)
class Saving:
    used_kwh: float
    full_power_kwh: float

    @property
    def saved_kwh(self) -> float:
        return self.full_power_kwh - self.used_kwh

    @property
    def saved_pct(self) -> float | None:
        return None if self.full_power_kwh <= 0 else 100.0 * self.saved_kwh / self.full_power_kwh


def saving(used_kwh: float, rated_power_w: float, on_hours: float) -> Saving:
    """What running at 100 % for ``on_hours`` would have used, beside what was used."""
    return Saving(used_kwh, rated_power_w * on_hours / 1000)


def total(days: Sequence[DayEnergy]) -> float:
    return sum(d.kwh for d in days)
