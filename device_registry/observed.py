"""What the telemetry store knows about a device, for ``device show``: when it was last seen, its latest readings.

The registry does not read the store's tables: whoever composes the packages (the gateway) hands
``device show`` a :class:`LatestReadings` with :func:`set_latest_readings`.

>>> async def from_store(db, device_id):                       # doctest: +SKIP
...     return Observed(last_seen=..., readings=tuple(await store.latest(device_id)))
>>> set_latest_readings(from_store)                            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from streetwatch.database import Database
from streetwatch.readings import Reading


@dataclass(frozen=True, slots=True)
class Observed:
    last_seen: datetime | None
    readings: tuple[Reading, ...] = ()


class LatestReadings(Protocol):
    async def __call__(self, db: Database, device_id: str) -> Observed:
        """The device's last-seen time and its latest reading of each metric."""
        ...


_source: LatestReadings | None = None


def set_latest_readings(source: LatestReadings | None) -> None:
    """Give ``device show`` a way to read the telemetry store (``None`` takes it away)."""
    global _source
    _source = source


def latest_readings() -> LatestReadings | None:
    return _source
