"""Durations as people write them in rule files: ``30s``, ``5m``, ``1h30m``, ``10 min``, or plain seconds.

>>> parse_duration_s("1h30m")
5400.0
>>> parse_duration_s(90)
90.0
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

from streetwatch.figures import show

_UNIT_S = {
    "ms": 0.001, "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")


def parse_duration_s(value: Any) -> float:
    """Seconds from ``30s``/``5m``/``1h30m``/``2 hours`` or a number of seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 5m or 1h is expected, not a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a duration such as 30s, 5m or 1h is expected")
    text = value.strip().lower()
    try:
        return parse_duration_s(float(text))
    except ValueError:
        pass
    total, pos = 0.0, 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or match.group(2) not in _UNIT_S:
            raise ValueError(f"cannot read duration {value!r}; write e.g. 30s, 5m, 1h30m")
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        pos = match.end()
    return total


def format_duration_s(seconds: float) -> str:
    """``5400`` → ``1h30m``; the inverse of :func:`parse_duration_s` for whole seconds."""
    if seconds == 0:
        return "0s"
    rest, parts = round(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or f"{show(seconds)}s"


DurationS = Annotated[float, BeforeValidator(parse_duration_s)]
"""A pydantic field type: seconds, read from ``30s``-style text or a number."""
