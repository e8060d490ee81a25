"""Sun events of a lighting night, checked against astral and an independent ephemeris (PyEphem).

A night's evening event may fall on the next local date (a late-July sunset in Tromsø comes after
midnight); it still belongs to that night.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import ephem
import pytest

from control.library import ScheduleLibrary
from control.timeline import timeline
from streetwatch.sun import EventTime, NoEvent, SunEvent, night_event, solar_noon

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
TROMSO = (69.65, 18.96)


def _ephem(event: SunEvent, after: datetime, latitude: float, longitude: float) -> datetime | None:
    """The first crossing after ``after``, as PyEphem computes it (upper limb, standard refraction)."""
    observer = ephem.Observer()
    observer.lat, observer.lon = str(latitude), str(longitude)
    observer.date = ephem.Date(after.astimezone(UTC).replace(tzinfo=None))
    observer.pressure = 0  # refraction as the horizon below says, as astral does
    use_center = event.depression_deg > 0  # twilight is the centre's depression; sunrise and sunset the upper limb
    # Sunrise and sunset: 34' of refraction below the horizon (ephem adds the sun's radius itself).
    observer.horizon = f"-{event.depression_deg:g}" if use_center else "-0:34"
    sun = ephem.Sun()
    try:
        found = (observer.next_rising(sun, use_center=use_center) if event.rising
                 else observer.next_setting(sun, use_center=use_center))
    except (ephem.AlwaysUpError, ephem.NeverUpError):
        return None
    return ephem.Date(found).datetime().replace(tzinfo=UTC)


def test_a_sunset_after_local_midnight_belongs_to_that_night() -> None:
    day = date(2026, 7, 26)
    sunset = night_event(SunEvent.sunset, day, *TROMSO, OSLO)
    sunrise = night_event(SunEvent.sunrise, day, *TROMSO, OSLO)
    assert isinstance(sunset, EventTime) and isinstance(sunrise, EventTime)
    assert sunset.at.astimezone(OSLO).date() == date(2026, 7, 27)  # after midnight, local time
    assert sunset.at < sunrise.at
    steps = timeline(ScheduleLibrary.load().get("night"), day, *TROMSO, OSLO)
    assert [s.note for s in steps if s.source.startswith("sunset")] == [""]  # not "polar day"
    assert [s.dim_pct for s in steps] == [100, 50, 30, 0]


@pytest.mark.parametrize("day", [date(2026, 7, 20) + timedelta(days=i) for i in range(16)])
def test_a_night_with_a_sunrise_has_a_sunset(day: date) -> None:
    sunset = night_event(SunEvent.sunset, day, *TROMSO, OSLO)
    sunrise = night_event(SunEvent.sunrise, day, *TROMSO, OSLO)
    assert isinstance(sunset, EventTime) == isinstance(sunrise, EventTime), (sunset, sunrise)
    if isinstance(sunset, NoEvent):
        assert sunset.side == "light"


PLACES = [((23.13, 113.26), SHANGHAI, 2), ((45.80, 126.53), SHANGHAI, 2), ((52.52, 13.405), BERLIN, 2),
          (TROMSO, OSLO, 6)]


@pytest.mark.parametrize(("place", "zone", "tolerance_min"), PLACES, ids=["guangzhou", "harbin", "berlin", "tromso"])
@pytest.mark.parametrize("day", [date(2026, 3, 20), date(2026, 7, 27), date(2026, 8, 5), date(2026, 12, 21)])
@pytest.mark.parametrize("event", [SunEvent.sunset, SunEvent.sunrise, SunEvent.civil_dusk, SunEvent.civil_dawn])
def test_events_agree_with_an_independent_ephemeris(place: tuple[float, float], zone: zoneinfo.ZoneInfo,
                                                   tolerance_min: float, day: date, event: SunEvent) -> None:
    noon = solar_noon(day, *place, zone)
    ours = night_event(event, day, *place, zone)
    theirs = _ephem(event, noon, *place)
    if event.rising and theirs is not None and theirs > solar_noon(day + timedelta(days=1), *place, zone):
        theirs = None  # no rising this night (polar night: the next one is days later)
    if not event.rising and theirs is not None and theirs > noon + timedelta(hours=12, minutes=30):
        theirs = None
    if theirs is None:
        assert isinstance(ours, NoEvent), ours
        return
    assert isinstance(ours, EventTime), (ours, theirs)
    assert abs((ours.at - theirs).total_seconds()) < tolerance_min * 60, (ours.at, theirs)
