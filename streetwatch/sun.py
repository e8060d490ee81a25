"""The sun at a place: its elevation at a moment (rules' day-burning conditions) and its events on a
date (lighting schedules), with polar days and nights as answers, not exceptions.

``astral`` computes the times; this module names the events a lighting schedule may use and says
which way an event fails where it does not happen: the sun stays on the *light* side of the event's
threshold all day (midnight sun, white nights) or on the *dark* side (polar night).

>>> from datetime import date
>>> import zoneinfo
>>> when = event_time(SunEvent.sunset, date(2026, 12, 21), 23.13, 113.26, zoneinfo.ZoneInfo("Asia/Shanghai"))
>>> when.at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
'17:46'

The elevation is computed with astral (about 6 µs) and cached per location and minute, since
thousands of lamps report every minute.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Literal

from astral import Observer
from astral import sun as astral_sun
from astral.sun import elevation

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
                f"the sun never goes {self.event.depression_deg:g}° below the horizon")
            return f"no {self.event.value} on this date: {what} (polar day or white night)"
        what = "the sun stays below the horizon" if self.event.depression_deg == 0 else (
            f"the sun never climbs to {self.event.depression_deg:g}° below the horizon")
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
    """When ``event`` happens on the local date ``day`` at the place, or why it does not."""
    observer = Observer(latitude, longitude)
    try:
        at = _astral_function(event)(observer, day, tzinfo=zone)
    except ValueError:
        return NoEvent(event, _side(observer, day, event, zone))
    return EventTime(event, at.astimezone(UTC))


def _side(observer: Observer, day: date, event: SunEvent, zone: zoneinfo.ZoneInfo) -> Side:
    # As astral decides it: compare the sun's zenith at solar noon with the event's threshold.
    zenith_at_noon = float(astral_sun.zenith(observer, solar_noon(day, observer.latitude, observer.longitude, zone)))
    return "dark" if zenith_at_noon > 90.0 + event.depression_deg else "light"


def solar_noon(day: date, latitude: float, longitude: float, zone: zoneinfo.ZoneInfo) -> datetime:
    """The sun's highest point on the local date ``day`` (UTC)."""
    observer = Observer(latitude, longitude)
    noon = astral_sun.noon(observer, day, tzinfo=zone)
    # astral works on the UTC date; far from the zone's meridian that can be the neighbouring local date.
    local_day = noon.astimezone(zone).date()
    if local_day != day:
        noon = astral_sun.noon(observer, day + (day - local_day), tzinfo=zone)
    return noon.astimezone(UTC)
