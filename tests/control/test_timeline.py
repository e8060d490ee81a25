"""Schedule times against astral at several latitudes, in polar day and night, and across DST."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from astral import Observer
from astral import sun as astral_sun
from hypothesis import given, settings
from hypothesis import strategies as st

from control.library import ScheduleLibrary
from control.schedule import Schedule, check_schedule
from control.timeline import Place, lighting_day, next_change, setpoint_at, table, timeline

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
GUANGZHOU = (23.13, 113.26)
HARBIN = (45.80, 126.53)
TROMSO = (69.65, 18.96)
BERLIN_PLACE = (52.52, 13.405)


def _schedule(data: dict[str, object]) -> Schedule:
    schedule, problems = check_schedule({"name": "t", **data})
    assert schedule is not None, problems
    return schedule


@pytest.fixture(scope="module")
def night() -> Schedule:
    return ScheduleLibrary.load().get("night")


def _astral(kind: str, place: tuple[float, float], day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    function = {"sunset": astral_sun.sunset, "sunrise": astral_sun.sunrise}[kind]
    return function(Observer(*place), day, tzinfo=zone)  # type: ignore[no-any-return]


@pytest.mark.parametrize("place", [GUANGZHOU, HARBIN], ids=["guangzhou", "harbin"])
@pytest.mark.parametrize("day", [date(2026, 3, 20), date(2026, 6, 21), date(2026, 9, 10), date(2026, 12, 21)])
def test_night_schedule_follows_astral(night: Schedule, place: tuple[float, float], day: date) -> None:
    steps = timeline(night, day, *place, SHANGHAI)
    on_at = _astral("sunset", place, day, SHANGHAI) + timedelta(minutes=10)
    off_at = _astral("sunrise", place, day + timedelta(days=1), SHANGHAI) - timedelta(minutes=10)
    expected = [
        (on_at, 100),
        (datetime.combine(day, time(23, 0), SHANGHAI), 50),
        (datetime.combine(day + timedelta(days=1), time(1, 0), SHANGHAI), 30),
        (off_at, 0),
    ]
    assert [(s.at, s.dim_pct) for s in steps] == expected
    assert all(s.note == "" for s in steps)
    second = timedelta(seconds=1)
    assert setpoint_at(night, on_at - second, *place, SHANGHAI) == 0
    assert setpoint_at(night, on_at, *place, SHANGHAI) == 100
    assert setpoint_at(night, expected[2][0] - second, *place, SHANGHAI) == 50
    assert setpoint_at(night, off_at - second, *place, SHANGHAI) == 30
    assert setpoint_at(night, off_at, *place, SHANGHAI) == 0
    change = next_change(night, datetime.combine(day, time(12, 30), SHANGHAI), *place, SHANGHAI)
    assert change is not None and (change.at, change.dim_pct) == (on_at, 100)


def test_harbin_winter_evening_is_earlier_than_guangzhou(night: Schedule) -> None:
    # Same zone, 22° further north and 13° further east: the lamps come on about two hours earlier.
    day = date(2026, 12, 21)
    harbin_on = timeline(night, day, *HARBIN, SHANGHAI)[0].at
    guangzhou_on = timeline(night, day, *GUANGZHOU, SHANGHAI)[0].at
    assert timedelta(hours=1, minutes=45) < guangzhou_on - harbin_on < timedelta(hours=2, minutes=15)


def test_polar_night_lamps_on_all_day_and_follow_clock_steps(night: Schedule) -> None:
    day = date(2026, 12, 21)
    with pytest.raises(ValueError, match="always below"):
        _astral("sunset", TROMSO, day, OSLO)
    steps = timeline(night, day, *TROMSO, OSLO)
    assert [s.dim_pct for s in steps] == [100, 50, 30, 0]
    assert "polar night" in steps[0].note and "start" in steps[0].note
    assert "polar night" in steps[3].note and "end" in steps[3].note
    noon = astral_sun.noon(Observer(*TROMSO), day, tzinfo=OSLO)
    assert steps[0].at == noon
    at = lambda d, h, m: datetime.combine(d, time(h, m), OSLO)  # noqa: E731
    nxt = day + timedelta(days=1)
    assert [setpoint_at(night, at(day, h, 0), *TROMSO, OSLO) for h in (12, 18, 22)] == [100, 100, 100]
    assert setpoint_at(night, at(day, 23, 30), *TROMSO, OSLO) == 50
    assert setpoint_at(night, at(nxt, 3, 0), *TROMSO, OSLO) == 30
    assert setpoint_at(night, at(nxt, 11, 0), *TROMSO, OSLO) == 30  # dark still: no sunrise to switch off
    assert setpoint_at(night, at(nxt, 12, 0), *TROMSO, OSLO) == 100  # the next lighting day starts
    # The on-device table never switches off in polar night.
    assert [dim for _, dim in table(night, day, *TROMSO, OSLO)] == [30, 100, 50]


def test_midnight_sun_keeps_lamps_off(night: Schedule) -> None:
    day = date(2026, 6, 21)
    with pytest.raises(ValueError, match="always above"):
        _astral("sunrise", TROMSO, day, OSLO)
    start = datetime.combine(day, time(0, 0), OSLO)
    levels = {setpoint_at(night, start + timedelta(minutes=20 * i), *TROMSO, OSLO) for i in range(3 * 24 * 3)}
    assert levels == {0}
    assert next_change(night, start, *TROMSO, OSLO) is None
    noon = astral_sun.noon(Observer(*TROMSO), day, tzinfo=OSLO)
    assert table(night, day, *TROMSO, OSLO) == [(noon.hour * 60 + noon.minute, 0)]  # one slot: off


def test_civil_twilight_still_happens_in_polar_night() -> None:
    schedule = _schedule({"steps": [{"at": "civil_dusk+5m", "dim": 80}, {"at": "civil_dawn", "dim": 0}]})
    day = date(2026, 12, 21)
    steps = timeline(schedule, day, *TROMSO, OSLO)
    dusk = astral_sun.dusk(Observer(*TROMSO), day, tzinfo=OSLO)
    dawn = astral_sun.dawn(Observer(*TROMSO), day + timedelta(days=1), tzinfo=OSLO)
    assert [(s.at, s.dim_pct, s.note) for s in steps] == [(dusk + timedelta(minutes=5), 80, ""), (dawn, 0, "")]


def test_last_short_night_before_the_midnight_sun() -> None:
    # The sun dips below the horizon for minutes only: a sun that sets that evening rises that night (astral
    # alone misses such grazing crossings on some dates), and the day after has neither.
    schedule = ScheduleLibrary.load().get("full-night")
    days = [date(2026, 5, 10) + timedelta(days=i) for i in range(15)]
    nights = {d: timeline(schedule, d, *TROMSO, OSLO) for d in days}
    last = max(d for d, steps in nights.items() if steps[0].note == "")
    on, off = nights[last]
    assert (on.dim_pct, off.dim_pct, off.note) == (100, 0, "")
    assert timedelta(0) < off.at - on.at < timedelta(hours=2)
    assert setpoint_at(schedule, on.at + (off.at - on.at) / 2, *TROMSO, OSLO) == 100
    after = nights[last + timedelta(days=1)]
    assert "polar day" in after[0].note and [s.dim_pct for s in after] == [100, 0]
    assert after[0].at == after[1].at  # both at the day's end: the lamps stay off
    assert all("polar day" in steps[0].note for d, steps in nights.items() if d > last)
    assert all(steps[0].note == "" and steps[1].note == "" for d, steps in nights.items() if d <= last)


def test_spring_forward_night_in_berlin() -> None:
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
    schedule = _schedule({"steps": [
        {"at": "sunset", "dim": 100}, {"at": "23:00", "dim": 60}, {"at": "02:30", "dim": 40},
        {"at": "sunrise", "dim": 0}]})
    day = date(2026, 3, 28)
    steps = timeline(schedule, day, *BERLIN_PLACE, BERLIN)
    assert steps[0].at == _astral("sunset", BERLIN_PLACE, day, BERLIN)
    assert steps[1].at.astimezone(UTC) == datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    # 02:30 does not exist that night: it moves forward by the gap, to 03:30 CEST.
    assert steps[2].at.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert steps[2].local(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    sunrise = _astral("sunrise", BERLIN_PLACE, day + timedelta(days=1), BERLIN)
    assert steps[3].at == sunrise and sunrise.utcoffset() == timedelta(hours=2)
    # Durations are real durations: 23:00 CET to 03:30 CEST is 3½ hours, not 4½.
    assert steps[2].at - steps[1].at == timedelta(hours=3, minutes=30)
    assert setpoint_at(schedule, datetime(2026, 3, 29, 1, 29, tzinfo=UTC), *BERLIN_PLACE, BERLIN) == 60
    assert setpoint_at(schedule, datetime(2026, 3, 29, 1, 30, tzinfo=UTC), *BERLIN_PLACE, BERLIN) == 40


def test_fall_back_night_in_berlin_takes_the_first_of_a_repeated_time() -> None:
    # 2026-10-25: 02:00-03:00 happens twice; a step at 02:30 takes effect the first time.
    schedule = _schedule({"steps": [{"at": "sunset", "dim": 100}, {"at": "02:30", "dim": 40},
                                    {"at": "sunrise", "dim": 0}]})
    steps = timeline(schedule, date(2026, 10, 24), *BERLIN_PLACE, BERLIN)
    assert steps[1].at.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert steps[2].at == _astral("sunrise", BERLIN_PLACE, date(2026, 10, 25), BERLIN)
    assert steps[2].local(BERLIN).utcoffset() == timedelta(hours=1)
    assert table(schedule, date(2026, 10, 24), *BERLIN_PLACE, BERLIN)[0] == (150, 40)


def test_exception_dates_replace_the_steps(night: Schedule) -> None:
    festival = timeline(night, date(2027, 2, 5), *GUANGZHOU, SHANGHAI)
    assert [s.dim_pct for s in festival] == [100, 0]
    assert all(s.note.startswith("festival night") for s in festival)
    assert [s.dim_pct for s in timeline(night, date(2027, 2, 4), *GUANGZHOU, SHANGHAI)] == [100, 50, 30, 0]
    # Every year, and ranges: New Year's Eve and the National Day week.
    for day in (date(2030, 12, 31), date(2031, 10, 1), date(2031, 10, 7)):
        assert len(timeline(night, day, *GUANGZHOU, SHANGHAI)) == 2
    assert len(timeline(night, date(2031, 10, 8), *GUANGZHOU, SHANGHAI)) == 4
    at_midnight = datetime(2028, 1, 1, 0, 30, tzinfo=SHANGHAI)  # the night that started on 12-31
    assert setpoint_at(night, at_midnight, *GUANGZHOU, SHANGHAI) == 100


def test_a_step_listed_before_its_time_is_taken_with_the_previous_one() -> None:
    # In Berlin's midsummer the sun sets after 21:30: "21:00 at 50 %" is taken at sunset, and wins.
    schedule = _schedule({"steps": [{"at": "sunset", "dim": 100}, {"at": "21:00", "dim": 50},
                                    {"at": "sunrise", "dim": 0}]})
    steps = timeline(schedule, date(2026, 6, 21), *BERLIN_PLACE, BERLIN)
    assert steps[1].at == steps[0].at and "taken with it" in steps[1].note
    assert setpoint_at(schedule, steps[0].at, *BERLIN_PLACE, BERLIN) == 50


def test_clock_day_start() -> None:
    schedule = _schedule({"day_starts": "00:00", "steps": [{"at": "07:00", "dim": 80}, {"at": "19:00", "dim": 0}]})
    day = date(2026, 5, 1)
    steps = timeline(schedule, day, *GUANGZHOU, SHANGHAI)
    assert [s.at for s in steps] == [datetime(2026, 5, 1, 7, tzinfo=SHANGHAI),
                                     datetime(2026, 5, 1, 19, tzinfo=SHANGHAI)]
    assert setpoint_at(schedule, datetime(2026, 5, 2, 6, 59, tzinfo=SHANGHAI), *GUANGZHOU, SHANGHAI) == 0
    midnight = datetime(2026, 5, 2, 0, 0, tzinfo=SHANGHAI)
    assert lighting_day(schedule, midnight, Place(*GUANGZHOU, SHANGHAI)) == date(2026, 5, 2)


def test_table_for_a_controller(night: Schedule) -> None:
    rows = table(night, date(2026, 12, 21), *GUANGZHOU, SHANGHAI)
    on = timeline(night, date(2026, 12, 21), *GUANGZHOU, SHANGHAI)[0].local(SHANGHAI)
    assert rows == [(60, 30), (414, 0), (on.hour * 60 + on.minute, 100), (1380, 50)]


ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/Anchorage", "Australia/Sydney", "UTC", "America/Santiago"]


@settings(max_examples=150, deadline=None)
@given(latitude=st.floats(-89.5, 89.5), longitude=st.floats(-180, 180),
       day=st.dates(date(2024, 1, 1), date(2030, 12, 31)), zone_name=st.sampled_from(ZONES),
       minutes=st.integers(0, 48 * 60))
def test_any_place_any_date_gives_an_ordered_day(
        night: Schedule, latitude: float, longitude: float, day: date, zone_name: str, minutes: int) -> None:
    zone = zoneinfo.ZoneInfo(zone_name)
    steps = timeline(night, day, latitude, longitude, zone)
    assert len(steps) in (2, 4)  # 2 on festival nights
    assert all(a.at <= b.at for a, b in itertools.pairwise(steps))
    span = steps[-1].at - steps[0].at
    assert timedelta() <= span <= timedelta(hours=26)
    when = datetime.combine(day, time(12, 0), zone) + timedelta(minutes=minutes)
    level = setpoint_at(night, when, latitude, longitude, zone)
    assert level in (0, 30, 50, 100)
    change = next_change(night, when, latitude, longitude, zone)
    if change is not None:
        assert change.at > when
        assert setpoint_at(night, change.at, latitude, longitude, zone) == change.dim_pct != level
        assert setpoint_at(night, change.at - timedelta(seconds=1), latitude, longitude, zone) == level
