"""A schedule's steps turned into times at a place: pure functions, time is a parameter.

The lighting day of date ``D`` runs from its start (solar noon at the place, or the schedule's
``day_starts`` clock time) to the start of ``D + 1``, so one night is one unit. In it:

- a clock step happens at that local time on ``D`` if that is after the day's start, else on ``D + 1``;
- an evening event (sunset, civil_dusk, nautical_dusk) is the one of the night that starts on ``D``
  (even when it falls after midnight: a late-July sunset in Tromsø), a morning event (sunrise,
  civil_dawn, nautical_dawn) the one that ends it on ``D + 1``, each shifted by its offset;
- an event that does not happen (polar day or night, white nights) is placed where the sky already
  is: at the day's start if the sky is on the event's far side (no sunset in polar night: it is
  already dark; no sunrise under the midnight sun: it is already light), else at the day's end
  (it never comes); times are kept inside the day;
- steps keep the order they are listed in: a step that would come before the previous one is taken
  with it, and of steps at the same instant the last listed wins.

So under the midnight sun a night schedule keeps the lamps off all day, and in polar night they
come on at the day's start and follow the clock steps.

Local clock times that do not exist (the hour skipped when daylight saving starts) move forward by
the length of the gap (02:30 becomes 03:30); times that happen twice (when it ends) are the first.
All arithmetic is done in UTC, and steps carry UTC times.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from control.schedule import Schedule, StepSpec
from streetwatch.sun import EventTime, NoEvent, night_event, solar_noon

SEARCH_DAYS = 3


@dataclass(frozen=True, slots=True)
class Step:
    """From ``at`` on, the lamps are at ``dim_pct`` %.

    ``at`` is in UTC: Python compares and subtracts two times of the *same* zone by their wall
    clocks, which is wrong across a daylight-saving change. Show it with :meth:`local`.
    """

    at: datetime
    dim_pct: int
    source: str
    note: str = ""

    def local(self, zone: zoneinfo.ZoneInfo) -> datetime:
        return self.at.astimezone(zone)


@dataclass(frozen=True, slots=True)
class Place:
    latitude: float
    longitude: float
    zone: zoneinfo.ZoneInfo


def local_instant(day: date, clock: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of a local clock time (gap: moved forward by its length; fold: the first)."""
    return datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)


def day_start(schedule: Schedule, day: date, place: Place) -> datetime:
    """When the lighting day of ``day`` starts (UTC)."""
    if schedule.day_starts is None:
        return solar_noon(day, place.latitude, place.longitude, place.zone)
    return local_instant(day, schedule.day_starts, place.zone)


def lighting_day(schedule: Schedule, when: datetime, place: Place) -> date:
    """The date whose lighting day holds the instant ``when``."""
    local_day = when.astimezone(place.zone).date()
    return local_day if day_start(schedule, local_day, place) <= when else local_day - timedelta(days=1)


def _resolve(step: StepSpec, day: date, start: datetime, end: datetime, place: Place) -> tuple[datetime, str]:
    spec = step.at
    if spec.clock is not None:
        at = local_instant(day, spec.clock, place.zone)
        if at < start:
            at = local_instant(day + timedelta(days=1), spec.clock, place.zone)
        return at, ""
    assert spec.event is not None
    found = night_event(spec.event, day, place.latitude, place.longitude, place.zone)
    if isinstance(found, EventTime):
        return found.at + spec.offset, ""
    assert isinstance(found, NoEvent)
    already = (found.side == "dark") != spec.event.rising  # dark for an evening event, light for a morning one
    return (start if already else end), f"{found.explanation}; taken at the day's {'start' if already else 'end'}"


def timeline(schedule: Schedule, day: date, latitude: float, longitude: float,
             zone: zoneinfo.ZoneInfo) -> list[Step]:
    """The steps of the lighting day that starts on ``day`` at the place, in time order.

    Steps at the day's end are included (they say what the day hands over to the next).
    """
    place = Place(latitude, longitude, zone)
    return list(_timeline(schedule, day, place))


# A scheduler asks for the same lamp's days again and again (now, the next change, the table).
@functools.lru_cache(maxsize=32_768)
def _timeline(schedule: Schedule, day: date, place: Place) -> tuple[Step, ...]:
    start = day_start(schedule, day, place)
    end = day_start(schedule, day + timedelta(days=1), place)
    specs, origin = schedule.steps_for(day)
    steps: list[Step] = []
    previous = start
    for spec in specs:
        at, note = _resolve(spec, day, start, end, place)
        if at < start or at > end:
            note = note or f"moved into the lighting day (it would be at {at.astimezone(place.zone):%H:%M})"
            at = min(max(at, start), end)
        if at < previous:
            shown = previous.astimezone(place.zone)
            note = note or f"comes before the step listed above it; taken with it at {shown:%H:%M}"
            at = previous
        previous = at
        if origin != "default":
            note = f"{origin}; {note}" if note else origin
        steps.append(Step(at, spec.dim, str(spec.at), note))
    return tuple(steps)


def _effective(steps: Sequence[Step]) -> list[Step]:
    """Of steps at the same instant, the last listed."""
    out: list[Step] = []
    for step in steps:
        if out and out[-1].at == step.at:
            out[-1] = step
        else:
            out.append(step)
    return out


def setpoint_at(schedule: Schedule, when: datetime, latitude: float, longitude: float,
                zone: zoneinfo.ZoneInfo) -> int:
    """The dim level (%) the schedule asks for at the instant ``when`` at the place."""
    place = Place(latitude, longitude, zone)
    day = lighting_day(schedule, when, place)
    current = _timeline(schedule, day, place)
    done = [step for step in current if step.at <= when]
    if done:
        return done[-1].dim_pct
    return _timeline(schedule, day - timedelta(days=1), place)[-1].dim_pct


def next_change(schedule: Schedule, after: datetime, latitude: float, longitude: float,
                zone: zoneinfo.ZoneInfo) -> Step | None:
    """The first step after ``after`` that changes the level; None if nothing changes for days."""
    place = Place(latitude, longitude, zone)
    current = setpoint_at(schedule, after, latitude, longitude, zone)
    first_day = lighting_day(schedule, after, place)
    # One run of days: a step at a day's end gives way to the next day's step at the same instant.
    steps = [step for offset in range(SEARCH_DAYS)
             for step in _timeline(schedule, first_day + timedelta(days=offset), place)]
    for step in _effective(steps):
        if step.at > after and step.dim_pct != current:
            return step
    return None


def table(schedule: Schedule, day: date, latitude: float, longitude: float, zone: zoneinfo.ZoneInfo,
          ) -> list[tuple[int, int]]:
    """The day's steps as an on-device table of (minute of the local day, dim %), by minute.

    A controller repeats the table every day, so it is a snapshot that the scheduler pushes again
    as sunset and sunrise move.
    """
    place = Place(latitude, longitude, zone)
    start = day_start(schedule, day, place)
    end = day_start(schedule, day + timedelta(days=1), place)
    # What holds at the day's start, then every change inside the day; steps at the day's end
    # belong to the next day's table (in polar night the "off" at the end never takes effect).
    entries = [(start, setpoint_at(schedule, start, latitude, longitude, zone))]
    entries += [(s.at, s.dim_pct) for s in _effective(_timeline(schedule, day, place)) if start < s.at < end]
    by_minute: dict[int, int] = {}
    for at, dim in entries:
        local = at.astimezone(zone)
        by_minute[local.hour * 60 + local.minute] = dim
    in_day_order = list(by_minute.items())
    kept = [entry for i, entry in enumerate(in_day_order) if entry[1] != in_day_order[i - 1][1]]
    return sorted(kept or in_day_order[:1])
