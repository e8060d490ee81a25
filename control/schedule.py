"""Lighting schedules as files: steps at clock times or sun events, and date exceptions.

A schedule file (YAML or TOML)::

    name: night
    description: On after sunset, dimmed late at night, off before sunrise.
    steps:
      - {at: sunset+10m, dim: 100}
      - {at: "23:00", dim: 50}
      - {at: "01:00", dim: 30}
      - {at: sunrise-10m, dim: 0}
    exceptions:
      - name: Spring Festival
        dates: [2027-02-06..2027-02-12, 12-31]
        steps:
          - {at: sunset+10m, dim: 100}
          - {at: sunrise-10m, dim: 0}

Steps are the phases of one *lighting day*, listed in the order they happen from the day's start
(solar noon by default, so that a night is one unit). :mod:`control.timeline` turns them into
times. :func:`check_schedule` reports every problem with its location; :func:`load_schedule` raises
:class:`ScheduleError` carrying them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from control.errors import ScheduleError
from streetwatch.datafile import DataFileError, parse_mapping
from streetwatch.sun import SunEvent

SCHEDULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_OFFSET = timedelta(hours=6)
MAX_STEPS = 48
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_SUN = re.compile(r"^([a-z_]+)\s*(?:([+-])\s*(.*))?$")
_OFFSET = re.compile(r"^(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?$")
_DAY = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """When a step happens: a local clock time, or a sun event shifted by an offset."""

    clock: time | None = None
    event: SunEvent | None = None
    offset: timedelta = timedelta()

    def __str__(self) -> str:
        if self.clock is not None:
            return self.clock.strftime("%H:%M")
        assert self.event is not None
        if not self.offset:
            return self.event.value
        sign, rest = ("-", -self.offset) if self.offset < timedelta() else ("+", self.offset)
        hours, seconds = divmod(int(rest.total_seconds()), 3600)
        minutes, seconds = divmod(seconds, 60)
        text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
        return f"{self.event.value}{sign}{text}"


def parse_time_spec(value: Any) -> TimeSpec:
    """``"23:00"``, ``"sunset"``, ``"sunset+10m"``, ``"civil_dawn-1h30m"`` → :class:`TimeSpec`.

    >>> str(parse_time_spec("sunrise - 10m"))
    'sunrise-10m'
    """
    if isinstance(value, TimeSpec):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a clock time like '23:00' or an event like 'sunset+10m', got {value!r}")
    text = value.strip().lower()
    clock = _CLOCK.match(text)
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise ValueError(f"{value!r} is not a clock time (00:00 to 23:59)")
        return TimeSpec(clock=time(hour, minute))
    sun = _SUN.match(text)
    if not sun:
        raise ValueError(f"{value!r} is neither a clock time like '23:00' nor an event like 'sunset+10m'")
    name, sign, offset_text = sun.groups()
    try:
        event = SunEvent(name)
    except ValueError:
        known = ", ".join(e.value for e in SunEvent)
        raise ValueError(f"unknown event {name!r} (known: {known})") from None
    hours = minutes = seconds = None
    if sign:
        parts = _OFFSET.match(offset_text.strip())
        if not parts or not any(parts.groups()):
            raise ValueError(f"{value!r}: the offset needs a unit, e.g. {name}{sign}10m or {name}{sign}1h30m")
        hours, minutes, seconds = parts.groups()
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0), seconds=int(seconds or 0))
    if sign == "-":
        offset = -offset
    if abs(offset) > MAX_OFFSET:
        raise ValueError(f"{value!r}: offsets are limited to ±6h")
    return TimeSpec(event=event, offset=offset)


@dataclass(frozen=True, slots=True)
class DateRule:
    """A date or a date range; without a year it holds every year (``12-24``, ``10-01..10-07``)."""

    first: tuple[int | None, int, int]
    last: tuple[int | None, int, int]

    def matches(self, day: date) -> bool:
        if self.first[0] is None:
            key = (day.month, day.day)
            low, high = self.first[1:], self.last[1:]
            return low <= key <= high if low <= high else (key >= low or key <= high)  # wraps the new year
        low_date, high_date = date(*self.first), date(*self.last)  # type: ignore[arg-type]
        return low_date <= day <= high_date

    def __str__(self) -> str:
        def one(part: tuple[int | None, int, int]) -> str:
            year, month, day = part
            return (f"{year:04d}-" if year is not None else "") + f"{month:02d}-{day:02d}"
        return one(self.first) if self.first == self.last else f"{one(self.first)}..{one(self.last)}"


def _parse_day(text: str) -> tuple[int | None, int, int]:
    match = _DAY.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD, or MM-DD for every year)")
    year = int(match.group(1)) if match.group(1) else None
    month, day = int(match.group(2)), int(match.group(3))
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: 02-29 is a valid every-year date
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None
    return year, month, day


def parse_date_rule(value: Any) -> DateRule:
    if isinstance(value, DateRule):
        return value
    if isinstance(value, date):
        part = (value.year, value.month, value.day)
        return DateRule(part, part)
    if not isinstance(value, str):
        raise ValueError(f"expected a date like 2026-12-24, 12-24 or a range 10-01..10-07, got {value!r}")
    first_text, _, last_text = value.partition("..")
    first = _parse_day(first_text)
    last = _parse_day(last_text) if last_text else first
    if (first[0] is None) != (last[0] is None):
        raise ValueError(f"{value!r}: give both ends with a year, or both without")
    if first[0] is not None and date(*first) > date(*last):  # type: ignore[arg-type]
        raise ValueError(f"{value!r}: the range ends before it starts")
    return DateRule(first, last)


TimeSpecField = Annotated[TimeSpec, BeforeValidator(parse_time_spec), PlainSerializer(str)]
DateRuleField = Annotated[DateRule, BeforeValidator(parse_date_rule), PlainSerializer(str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class StepSpec(_Strict):
    """One step: from ``at`` on, the lamps are at ``dim`` % (0 is off)."""

    at: TimeSpecField
    dim: int = Field(ge=0, le=100, description="dim level in %, 0 switches off")


class ScheduleException(_Strict):
    """Other steps on some dates: holidays, festival nights at full brightness."""

    name: str = ""
    dates: tuple[DateRuleField, ...] = Field(min_length=1)
    steps: tuple[StepSpec, ...] = Field(min_length=1, max_length=MAX_STEPS)


class Schedule(_Strict):
    name: str
    description: str = ""
    day_starts: time | None = Field(
        None, description="when a lighting day starts, local clock time; default: solar noon at the place")
    steps: tuple[StepSpec, ...] = Field(min_length=1, max_length=MAX_STEPS)
    exceptions: tuple[ScheduleException, ...] = ()

    def steps_for(self, day: date) -> tuple[tuple[StepSpec, ...], str]:
        """The steps of the lighting day starting on ``day`` and what they come from."""
        for exception in self.exceptions:
            if any(rule.matches(day) for rule in exception.dates):
                return exception.steps, exception.name or "exception"
        return self.steps, "default"


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(schedule)"


def _order_problems(schedule: Schedule) -> list[str]:
    # Clock steps must come in the order they happen from the day's start; a step listed out of
    # order would be taken together with the one before it (see timeline), which is rarely meant.
    problems = []
    start = schedule.day_starts or time(12, 0)
    plans = [("steps", schedule.steps)] + [
        (f"exceptions[{i}].steps", e.steps) for i, e in enumerate(schedule.exceptions)]
    for where, steps in plans:
        previous: tuple[int, str] | None = None
        for i, step in enumerate(steps):
            if step.at.clock is None:
                continue
            key = (0 if step.at.clock >= start else 1, step.at.clock.hour * 60 + step.at.clock.minute)
            position = key[0] * 1440 + key[1]
            if previous is not None and position < previous[0]:
                problems.append(f"{where}[{i}].at: {step.at} comes before {previous[1]} in a lighting day that "
                                f"starts at {'solar noon' if schedule.day_starts is None else start.strftime('%H:%M')};"
                                " list steps in the order they happen")
            previous = (position, str(step.at))
    return problems


def check_schedule(data: dict[str, Any], default_name: str | None = None) -> tuple[Schedule | None, list[str]]:
    """Validate raw schedule data; return the schedule (if it is valid) and every problem found."""
    if default_name is not None and "name" not in data:
        data = {"name": default_name, **data}
    try:
        schedule = Schedule.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(f"{_location(tuple(error['loc']))}: {message}")
        return None, problems
    problems = []
    if not SCHEDULE_NAME.match(schedule.name):
        problems.append(f"name: {schedule.name!r} must be lower-case letters, digits, '.', '_', '-' (≤ 64)")
    problems += _order_problems(schedule)
    return (schedule if not problems else None), problems


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


class _TimesAsText(yaml.SafeLoader):
    """YAML without sexagesimal numbers, so that ``at: 23:00`` stays the text it looks like."""


_TimesAsText.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_TimesAsText.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_TimesAsText.add_implicit_resolver(
    _FLOAT, re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+][0-9]+)?$"), list("-+.0123456789"))


def parse_schedule_text(text: str, suffix: str, source: str) -> dict[str, Any]:
    try:
        return parse_mapping(text, suffix, yaml_loader=_TimesAsText)
    except DataFileError as exc:
        raise ScheduleError(source, [str(exc)]) from None


def read_schedule_data(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return parse_schedule_text(text, path.suffix.lower(), str(path))


def load_schedule(path: Path) -> Schedule:
    """Read and validate one schedule file; its name defaults to the file's stem."""
    schedule, problems = check_schedule(read_schedule_data(path), default_name=path.stem)
    if schedule is None:
        raise ScheduleError(str(path), problems)
    return schedule
