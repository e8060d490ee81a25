"""Rotas: who is on duty at an instant, in the area's zone, across hand-overs, holidays, overrides and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from duty.rota import Holiday, Override, Rota, Shift, overlaps
from streetwatch.clock import FakeClock

EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
ROTA = Rota("jingtai", "duty_officer", shifts=(
    Shift(WEEKDAYS, time(8), time(20), "wang", "r.yaml:4"),
    Shift(WEEKDAYS, time(20), time(8), "li", "r.yaml:5"),
    Shift(frozenset({5, 6}), time(8), time(8), "zhao", "r.yaml:6"),  # a 24-hour weekend shift
), holidays=(Holiday(date(2026, 10, 1), "chen"),),
   overrides=(Override(datetime(2026, 12, 24, 18), datetime(2026, 12, 25, 8), "sun"),))
SHANGHAI = "Asia/Shanghai"


@pytest.mark.parametrize(("local", "who"), [
    ("2026-12-07 07:59:59", "zhao"),   # Monday before hand-over: Sunday's 24-hour shift still runs
    ("2026-12-07 08:00:00", "wang"),   # hand-over at 08:00 sharp
    ("2026-12-07 08:00:01", "wang"),
    ("2026-12-07 19:59:59", "wang"),
    ("2026-12-07 20:00:01", "li"),     # one second after hand-over: the new person
    ("2026-12-08 03:00:00", "li"),     # a night shift runs past midnight
    ("2026-12-12 07:59:59", "li"),     # Friday's night shift ends Saturday 08:00
    ("2026-12-12 08:00:01", "zhao"),
    ("2026-10-01 12:00:00", "chen"),   # a holiday (a Thursday) replaces the pattern all day
    ("2026-12-24 17:59:59", "wang"),
    ("2026-12-24 18:00:00", "sun"),    # an override wins over the pattern
    ("2026-12-25 07:59:59", "sun"),
    ("2026-12-25 08:00:00", "wang"),
])
def test_who_is_on_duty_at_a_local_time(local: str, who: str) -> None:
    import zoneinfo
    at = datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(SHANGHAI))
    assert ROTA.on_duty(at.astimezone(UTC), SHANGHAI) == who


def test_an_alert_one_second_after_hand_over_reaches_the_new_person() -> None:
    # 20:00 in Shanghai is 12:00 UTC: the clock moves over the hand-over a second at a time.
    clock = FakeClock(datetime(2026, 12, 7, 11, 59, 58, tzinfo=UTC))
    seen = [ROTA.on_duty(clock.now(), SHANGHAI)]
    for _ in range(3):
        clock.advance(seconds=1)
        seen.append(ROTA.on_duty(clock.now(), SHANGHAI))
    assert seen == ["wang", "wang", "li", "li"]


@pytest.mark.parametrize(("utc", "who"), [
    # Europe/Berlin leaves summer time on 2026-10-25 at 03:00 CEST → 02:00 CET: the night is 13 hours.
    ("2026-10-24T17:59:59", "day"),     # 19:59:59 CEST
    ("2026-10-24T18:00:01", "night"),   # 20:00:01 CEST
    ("2026-10-25T06:59:59", "night"),   # 07:59:59 CET, 13 hours later
    ("2026-10-25T07:00:01", "day"),     # 08:00:01 CET: hand-over at the wall-clock time
    # and enters summer time on 2026-03-29 at 02:00 CET → 03:00 CEST: the night is 11 hours.
    ("2026-03-29T05:59:59", "night"),   # 07:59:59 CEST
    ("2026-03-29T06:00:01", "day"),
])
def test_hand_over_follows_the_wall_clock_across_daylight_saving(utc: str, who: str) -> None:
    rota = Rota("mitte", "duty_officer", shifts=(Shift(EVERY_DAY, time(8), time(20), "day"),
                                                 Shift(EVERY_DAY, time(20), time(8), "night")))
    assert rota.on_duty(datetime.fromisoformat(utc).replace(tzinfo=UTC), "Europe/Berlin") == who


def test_a_gap_in_the_pattern_means_nobody() -> None:
    rota = Rota("a", "duty_officer", shifts=(Shift(WEEKDAYS, time(8), time(17), "wang"),))
    assert rota.on_duty(datetime(2026, 12, 7, 18, tzinfo=UTC), "UTC") is None  # Monday evening
    assert rota.on_duty(datetime(2026, 12, 12, 9, tzinfo=UTC), "UTC") is None  # Saturday
    assert rota.on_duty(datetime(2026, 12, 7, 9, tzinfo=UTC), "UTC") == "wang"


@pytest.mark.parametrize(("shifts", "expected"), [
    ((Shift(WEEKDAYS, time(8), time(20), "a", "f:1"), Shift(WEEKDAYS, time(20), time(8), "b", "f:2")), []),
    ((Shift(WEEKDAYS, time(8), time(20), "a", "f:1"), Shift(frozenset({2}), time(19), time(21), "b", "f:2")),
     ["f:2: shift of b (wed 19:00–wed 21:00) overlaps the shift of a at f:1 (wed 08:00–wed 20:00)"]),
    # Sunday's night shift wraps into Monday morning and meets Monday's early shift
    ((Shift(frozenset({6}), time(20), time(9), "a", "f:1"), Shift(frozenset({0}), time(8), time(12), "b", "f:2")),
     ["f:2: shift of b (mon 08:00–mon 12:00) overlaps the shift of a at f:1 (mon 00:00–mon 09:00)"]),
])
def test_overlapping_shifts_are_named_with_where_they_are_written(shifts: tuple[Shift, ...],
                                                                  expected: list[str]) -> None:
    assert overlaps(Rota("a", "r", shifts=shifts)) == expected


def test_overlapping_overrides_and_repeated_holidays_are_refused() -> None:
    start = datetime(2026, 12, 24, 18)
    rota = Rota("a", "r", holidays=(Holiday(date(2026, 10, 1), "x", "f:3"), Holiday(date(2026, 10, 1), "y", "f:4")),
                overrides=(Override(start, start + timedelta(hours=4), "x", "f:5"),
                           Override(start + timedelta(hours=3), start + timedelta(hours=5), "y", "f:6")))
    assert overlaps(rota) == ["f:6: override for y overlaps the override for x at f:5",
                              "f:4: 2026-10-01 is already a holiday at f:3"]
