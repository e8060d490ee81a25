"""The sun's elevation at a device's location, for conditions such as day burning.

Computed with astral (about 6 µs) and cached per location and minute, since thousands of lamps
report every minute.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from astral import Observer
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
