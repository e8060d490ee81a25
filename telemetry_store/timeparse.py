"""Times and durations as an operator types them: ``now``, ``-2h``, ISO-8601, ``5m``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

_UNITS = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}
_DURATION = re.compile(r"^(?:\d+[smhdw])+$")
_PART = re.compile(r"(\d+)([smhdw])")

# Metric names end in their unit (water_level_mm, power_w): the unit to show when no profile says.
_SUFFIX_UNITS = (
    ("_mg_l", "mg/L"), ("_us_cm", "µS/cm"), ("_kwh", "kWh"), ("_pct", "%"), ("_ntu", "NTU"), ("_mm", "mm"),
    ("_w", "W"), ("_v", "V"), ("_a", "A"), ("_c", "°C"), ("_hours", "h"), ("_s", "s"),
)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``5m``, ``2h``, ``1d``, ``1w`` or combinations such as ``1h30m``.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    compact = text.strip().lower()
    if not _DURATION.match(compact):
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 5m, 2h, 1d, 1h30m)")
    total = sum((int(n) * _UNITS[unit] for n, unit in _PART.findall(compact)), timedelta())
    if total <= timedelta():
        raise ValueError(f"{text!r} is not a positive duration")
    return total


def parse_time(text: str, now: datetime, zone: tzinfo) -> datetime:
    """``now``, ``-2h``/``+30m`` (from now), or ISO-8601; a time without an offset is in ``zone``.

    >>> from datetime import UTC
    >>> parse_time("-2h", datetime(2026, 3, 1, 12, tzinfo=UTC), UTC).isoformat()
    '2026-03-01T10:00:00+00:00'
    """
    value = text.strip()
    if value.lower() == "now":
        return now
    if value[:1] in "+-" and _DURATION.match(value[1:].lower()):
        delta = parse_duration(value[1:])
        return now - delta if value[0] == "-" else now + delta
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a time (use ISO-8601 such as 2026-03-01T08:00, or now, -2h)") from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def unit_from_metric(metric: str) -> str | None:
    """The unit a metric's name ends in, if any: ``water_level_mm`` → ``mm``."""
    return next((unit for suffix, unit in _SUFFIX_UNITS if metric.endswith(suffix)), None)
