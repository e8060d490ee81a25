"""Value objects the store answers with: latest values, buckets, resolutions, retention steps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class FlaggedReading:
    """A reading the quality checks flagged (``spike``, ``gradient``, ``stuck``, ``below_floor``,
    ``low_battery``, ``low_signal``), with the rule that flagged it: kept beside the readings."""

    device_id: str
    metric: str
    ts: datetime
    value: float
    flags: tuple[str, ...]
    rule: str = ""


class Resolution(StrEnum):
    """Where a bucketed query reads from: raw readings or one of the rollups."""

    raw = "raw"
    minute = "1m"
    hour = "1h"

    @property
    def width(self) -> timedelta:
        return _WIDTHS[self]


_WIDTHS = {Resolution.raw: MICROSECOND, Resolution.minute: timedelta(minutes=1), Resolution.hour: timedelta(hours=1)}
ROLLUPS = (Resolution.minute, Resolution.hour)


def resolution_for(bucket: timedelta) -> Resolution:
    """The coarsest resolution whose rows combine exactly into buckets of this width.

    >>> resolution_for(timedelta(minutes=5)), resolution_for(timedelta(hours=2)), resolution_for(timedelta(seconds=90))
    (<Resolution.minute: '1m'>, <Resolution.hour: '1h'>, <Resolution.raw: 'raw'>)
    """
    if bucket <= timedelta():
        raise ValueError(f"bucket must be positive, not {bucket}")
    for resolution in (Resolution.hour, Resolution.minute):
        if bucket % resolution.width == timedelta():
            return resolution
    return Resolution.raw


def floor_time(ts: datetime, width: timedelta) -> datetime:
    """The start of the ``width``-wide bucket holding ``ts``, buckets aligned on the Unix epoch (UTC)."""
    return ts - (ts - EPOCH) % width


def minutes_touched(times: Iterable[datetime]) -> list[datetime]:
    """The starts of the minutes (UTC, epoch-aligned) that ``times`` fall in, in order, each once.

    >>> minutes_touched([datetime(2026, 3, 1, 12, 0, 59, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, tzinfo=UTC)])
    [datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)]
    """
    return sorted({EPOCH + (ts - EPOCH) // MINUTE * MINUTE for ts in times})


def ceil_time(ts: datetime, width: timedelta) -> datetime:
    floor = floor_time(ts, width)
    return floor if floor == ts else floor + width


def to_micros(ts: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (ts - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The newest reading of one metric of one device."""

    device_id: str
    metric: str
    ts: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Bucket:
    """Readings of one series in ``[start, start + width)``, summarised."""

    start: datetime
    min: float
    max: float
    avg: float
    count: int


@dataclass(frozen=True, slots=True)
class RetentionStep:
    """What retention does to one resolution: drop data older than ``cutoff`` (``None``: kept forever).

    ``drop_count`` counts ``drop_unit`` (``chunks`` on TimescaleDB, ``rows`` on SQLite).
    """

    resolution: Resolution
    table: str
    keep: timedelta | None
    cutoff: datetime | None
    drop_count: int
    drop_unit: str


@dataclass(frozen=True, slots=True)
class _Partial:
    """A bucket being assembled from parts read at different resolutions."""

    min: float
    max: float
    sum: float
    count: int


def merge_parts(rows: list[tuple[datetime, float, float, float, int]]) -> list[Bucket]:
    """Combine (start, min, max, sum, count) rows that may repeat a start into sorted buckets."""
    if len({row[0] for row in rows}) == len(rows):  # read from one resolution only: nothing to combine
        return [Bucket(start, low, high, total / count, count) for start, low, high, total, count in sorted(rows)]
    merged: dict[datetime, _Partial] = {}
    for start, low, high, total, count in rows:
        seen = merged.get(start)
        if seen is None:
            merged[start] = _Partial(low, high, total, count)
        else:
            merged[start] = _Partial(min(seen.min, low), max(seen.max, high), seen.sum + total, seen.count + count)
    return [Bucket(start, p.min, p.max, p.sum / p.count, p.count) for start, p in sorted(merged.items())]
