"""The sun at a place: its elevation at a moment (rules' day-burning conditions) and its events in a
night (lighting schedules), with polar days and nights as answers, not exceptions.

``astral`` computes the times; this module names the events a lighting schedule may use, finds the
ones of a given night, and says which way an event fails where it does not happen: the sun stays on
the *light* side of the event's threshold all night (midnight sun, white nights) or on the *dark*
side (polar night).

A night runs from one solar noon to the next: its evening events come between the first noon and
the sun's lowest point, its morning events after that. They are found by time, not by local date,
because an evening event can fall on the next local date (in Tromsø a late-July sunset comes after
midnight, and still belongs to that night).

>>> from datetime import date
>>> import zoneinfo
>>> when = night_event(SunEvent.sunset, date(2026, 12, 21), 23.13, 113.26, zoneinfo.ZoneInfo("Asia/Shanghai"))
>>> when.at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
'17:46'
>>> late = night_event(SunEvent.sunset, date(2026, 7, 26), 69.65, 18.96, zoneinfo.ZoneInfo("Europe/Oslo"))
>>> late.at.astimezone(zoneinfo.ZoneInfo("Europe/Oslo")).strftime("%d %H:%M")  # Tromsø: after midnight
'27 00:10'

The elevation is computed with astral (about 6 µs) and cached per location and minute, since
thousands of lamps report every minute.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from astral import Observer
from astral import sun as astral_sun
from astral.sun import elevation

from streetwatch.figures import show

SUNRISE_ELEVATION_DEG = -0.833
"""The centre of the sun at this elevation is sunrise/sunset (refraction and the sun's radius)."""


@functools.lru_cache(maxsize=65_536)
def _elevation(latitude: float, longitude: float, minute: int) -> float:
    at = datetime.fromtimestamp(minute * 60, tz=UTC)
    return float(elevation(Observer(latitude, longitude), at))


def sun_elevation_deg(latitude: float, longitude: float, at: datetime) -> float:
    """Degrees above the horizon (negative below), to the minute.

    >>> round(sun_elevation_deg(31.23, 121.47, datetime(2026, 6, 21, 4, 0, tzinfo=UTC)))
    82
    """
    return _elevation(round(latitude, 3), round(longitude, 3), int(at.timestamp() // 60))


def sun_up(latitude: float, longitude: float, at: datetime) -> bool:
    return sun_elevation_deg(latitude, longitude, at) > SUNRISE_ELEVATION_DEG


class SunEvent(StrEnum):
    """Events a schedule step may name; the value is how a schedule file spells it."""

    sunrise = "sunrise"
    sunset = "sunset"
    civil_dawn = "civil_dawn"
    civil_dusk = "civil_dusk"
    nautical_dawn = "nautical_dawn"
    nautical_dusk = "nautical_dusk"

    @property
    def rising(self) -> bool:
        """Morning events (the sun climbs through the threshold); the others are evening events."""
        return self in (SunEvent.sunrise, SunEvent.civil_dawn, SunEvent.nautical_dawn)

    @property
    def depression_deg(self) -> float:
        """Degrees below the horizon the event is defined at (0 for sunrise and sunset)."""
        return _DEPRESSION_DEG[self]


_DEPRESSION_DEG: dict[SunEvent, float] = {
    SunEvent.sunrise: 0.0, SunEvent.sunset: 0.0,
    SunEvent.civil_dawn: 6.0, SunEvent.civil_dusk: 6.0,
    SunEvent.nautical_dawn: 12.0, SunEvent.nautical_dusk: 12.0,
}

Side = Literal["light", "dark"]


@dataclass(frozen=True, slots=True)
class EventTime:
    """The event happens at ``at`` (UTC)."""

    event: SunEvent
    at: datetime


@dataclass(frozen=True, slots=True)
class NoEvent:
    """The event does not happen on this date: the sun stays on ``side`` of its threshold all day."""

    event: SunEvent
    side: Side

    @property
    def explanation(self) -> str:
        if self.side == "light":
            what = "the sun stays above the horizon" if self.event.depression_deg == 0 else (
                f"the sun never goes {show(self.event.depression_deg)}° below the horizon")
            return f"no {self.event.value} on this date: {what} (polar day or white night)"
        what = "the sun stays below the horizon" if self.event.depression_deg == 0 else (
            f"the sun never climbs to {show(self.event.depression_deg)}° below the horizon")
        return f"no {self.event.value} on this date: {what} (polar night)"


def _astral_function(event: SunEvent) -> Callable[..., datetime]:
    if event is SunEvent.sunrise:
        return astral_sun.sunrise
    if event is SunEvent.sunset:
        return astral_sun.sunset
    if event.rising:
        return lambda observer, day, tzinfo: astral_sun.dawn(observer, day, event.depression_deg, tzinfo)
    return lambda observer, day, tzinfo: astral_sun.dusk(observer, day, event.depression_deg, tzinfo)


def event_time(event: SunEvent, day: date, latitude: float, longitude: float,
               zone: zoneinfo.ZoneInfo) -> EventTime | NoEvent:
    """The evening event of the night that starts on ``day``, or the morning event of the night that ends
    on ``day`` (either may fall on a neighbouring local date), or why it does not happen."""
    return night_event(event, day - timedelta(days=1) if event.rising else day, latitude, longitude, zone)


def night_event(event: SunEvent, day: date, latitude: float, longitude: float,
                zone: zoneinfo.ZoneInfo) -> EventTime | NoEvent:
    """``event`` in the night after solar noon of the local date ``day``: an evening event between that
    noon and the sun's lowest point, a morning event between that and the next noon; or why it does not
    happen that night."""
    observer = Observer(latitude, longitude)
    noon = solar_noon(day, latitude, longitude, zone)
    next_noon = solar_noon(day + timedelta(days=1), latitude, longitude, zone)
    lowest = noon + (next_noon - noon) / 2  # the sun's lowest point, to within a minute
    start, end = (lowest, next_noon) if event.rising else (noon, lowest)
    function = _astral_function(event)
    found: list[datetime] = []
    # astral finds an event by the UTC date it falls on; ask for every UTC date the half night touches.
    utc_day = start.date() - timedelta(days=1)
    while utc_day <= end.date() + timedelta(days=1):
        try:
            at = function(observer, utc_day, tzinfo=UTC)
        except ValueError:
            pass  # no such crossing on that UTC date
        else:
            if start <= at < end:
                found.append(at)
        utc_day += timedelta(days=1)
    if found:
        return EventTime(event, min(found).astimezone(UTC))
    # astral misses crossings where the sun only grazes the threshold (the first and last short nights
    # around the midnight sun); the sun's position at both ends of the half night settles it.
    start_light, end_light = _light(observer, start, event), _light(observer, end, event)
    if start_light != end_light:
        return EventTime(event, _crossing(observer, start, end, event, start_light))
    return NoEvent(event, "light" if _light(observer, lowest, event) else "dark")


def _light(observer: Observer, at: datetime, event: SunEvent) -> bool:
    """Whether the sun is on the light side of the event's threshold (apparent position, upper limb)."""
    threshold = 90.0 + (event.depression_deg or astral_sun.SUN_APPARENT_RADIUS)
    return float(astral_sun.zenith(observer, at)) <= threshold


def _crossing(observer: Observer, start: datetime, end: datetime, event: SunEvent, start_light: bool) -> datetime:
    """The instant between ``start`` and ``end`` the sun crosses the threshold, to the second (bisection)."""
    while end - start > timedelta(seconds=1):
        middle = start + (end - start) / 2
        if _light(observer, middle, event) == start_light:
            start = middle
        else:
            end = middle
    return end


def solar_noon(day: date, latitude: float, longitude: float, zone: zoneinfo.ZoneInfo) -> datetime:
    """The sun's highest point on the local date ``day`` (UTC)."""
    observer = Observer(latitude, longitude)
    noon = astral_sun.noon(observer, day, tzinfo=zone)
    # astral works on the UTC date; far from the zone's meridian that can be the neighbouring local date.
    local_day = noon.astimezone(zone).date()
    if local_day != day:
        noon = astral_sun.noon(observer, day + (day - local_day), tzinfo=zone)
    return noon.astimezone(UTC)
