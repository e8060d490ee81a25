"""Duty rotas: who is on duty in an area, for a role, at a moment, in the area's own time zone.

A rota is a weekly pattern of shifts (each from a hand-over time to the next), whole-day holidays that
replace the pattern for that local date, and one-off overrides that win over both. Everything is wall
clock time in the area's zone, so a night shift 20:00→08:00 is 11 or 13 hours long on a night the clocks
change, and hands over at 08:00 local all the same.

>>> from datetime import UTC, datetime, time
>>> rota = Rota("jingtai", "duty_officer", shifts=(
...     Shift(frozenset(range(7)), time(8), time(20), "wang"),
...     Shift(frozenset(range(7)), time(20), time(8), "li")))
>>> rota.on_duty(datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC), "Asia/Shanghai")   # 08:00:01 in Shanghai
'wang'
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time

MINUTES_PER_WEEK = 7 * 24 * 60
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Shift:
    """A weekly shift: it starts on each of ``days`` (0 = Monday) at ``start`` and ends at ``end``,
    the next day when ``end`` is not after ``start`` (a night shift)."""

    days: frozenset[int]
    start: time
    end: time
    person: str
    where: str = ""  # file:line, for errors

    def spans(self) -> list[tuple[int, int]]:
        """Minutes of the week [from, to) it covers; a shift that runs past Sunday midnight wraps."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        length = end - start if end > start else end + 24 * 60 - start
        out: list[tuple[int, int]] = []
        for day in sorted(self.days):
            begin = day * 24 * 60 + start
            finish = begin + length
            if finish <= MINUTES_PER_WEEK:
                out.append((begin, finish))
            else:
                out += [(begin, MINUTES_PER_WEEK), (0, finish - MINUTES_PER_WEEK)]
        return out


@dataclass(frozen=True, slots=True)
class Holiday:
    """A local date on which ``person`` is on duty all day, whatever the weekly pattern says."""

    day: date
    person: str
    where: str = ""


@dataclass(frozen=True, slots=True)
class Override:
    """One-off: ``person`` is on duty from ``start`` to ``end`` (local wall times in the area's zone)."""

    start: datetime
    end: datetime
    person: str
    where: str = ""


@dataclass(frozen=True, slots=True)
class Rota:
    area: str
    role: str
    shifts: tuple[Shift, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    overrides: tuple[Override, ...] = ()
    source: str = field(default="", compare=False)

    def on_duty(self, at: datetime, zone: str) -> str | None:
        """The person on duty at the instant ``at`` (aware), or None when no shift covers it."""
        local = at.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
        for override in self.overrides:
            if override.start <= local < override.end:
                return override.person
        for holiday in self.holidays:
            if holiday.day == local.date():
                return holiday.person
        minute = local.weekday() * 24 * 60 + local.hour * 60 + local.minute
        for shift in self.shifts:
            if any(begin <= minute < finish for begin, finish in shift.spans()):
                return shift.person
        return None

    def people(self) -> set[str]:
        """Everyone the rota names."""
        return {s.person for s in self.shifts} | {h.person for h in self.holidays} | {o.person for o in self.overrides}


def overlaps(rota: Rota) -> list[str]:
    """Every pair of shifts or overrides that cover the same time, as one line each (empty: none)."""
    problems: list[str] = []
    for i, a in enumerate(rota.shifts):
        for b in rota.shifts[i + 1:]:
            clash = next(((sa, sb) for sa in a.spans() for sb in b.spans() if sa[0] < sb[1] and sb[0] < sa[1]), None)
            if clash is not None:  # one line per pair of shifts, however many days they share
                (a_from, a_to), (b_from, b_to) = clash
                problems.append(f"{b.where}: shift of {b.person} ({_clock(b_from)}–{_clock(b_to)}) overlaps the "
                                f"shift of {a.person} at {a.where} ({_clock(a_from)}–{_clock(a_to)})")
    for i, a_over in enumerate(rota.overrides):
        for b_over in rota.overrides[i + 1:]:
            if a_over.start < b_over.end and b_over.start < a_over.end:
                problems.append(f"{b_over.where}: override for {b_over.person} overlaps the override for "
                                f"{a_over.person} at {a_over.where}")
    seen: dict[date, Holiday] = {}
    for holiday in rota.holidays:
        if holiday.day in seen:
            problems.append(f"{holiday.where}: {holiday.day} is already a holiday at {seen[holiday.day].where}")
        seen[holiday.day] = holiday
    return list(dict.fromkeys(problems))


def _clock(minute_of_week: int) -> str:
    day, minute = divmod(minute_of_week % MINUTES_PER_WEEK, 24 * 60)
    if minute_of_week == MINUTES_PER_WEEK:
        day, minute = 6, 24 * 60
    return f"{DAY_NAMES[day]} {minute // 60:02d}:{minute % 60:02d}"

