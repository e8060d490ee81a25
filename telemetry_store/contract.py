"""The store contract both backends keep: TimescaleDB for a city, SQLite for a small site or the demo."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from streetwatch.config import StoreSettings
from streetwatch.readings import Reading
from telemetry_store.model import Bucket, FlaggedReading, LatestValue, Resolution, RetentionStep


class BatchSink(Protocol):
    """What the gateway's store path writes to: a :class:`TelemetryStore`, or anything that stores batches."""

    async def write(self, readings: Sequence[Reading]) -> None: ...


class TelemetryStore(ABC):
    """Readings in, latest values, history, buckets and retention out.

    Writes are idempotent on (device, metric, ts): the gateway delivers at least once, and a
    reading written twice is stored once (the first value wins). A late reading never replaces a
    newer latest value. Times are timezone-aware UTC.
    """

    backend: str
    settings: StoreSettings
    write_concurrency = 1  # batches that may be written at once (on separate connections)

    @abstractmethod
    async def write(self, readings: Sequence[Reading]) -> None:
        """Store one batch in one transaction, all or nothing.

        Raises :class:`~telemetry_store.errors.StoreUnavailable` when the database cannot be
        reached: nothing of the batch is stored then, and the caller may retry or spool it.
        """

    @abstractmethod
    async def latest(self, device_ids: Collection[str] | None = None) -> list[LatestValue]:
        """The newest value of every metric of the given devices (all devices when ``None``)."""

    @abstractmethod
    async def latest_of_metrics(self, metrics: Collection[str]) -> dict[str, dict[str, float]]:
        """The newest value of each of ``metrics`` for every device that has one: device -> metric -> value.

        One query, no timestamps: for views of many devices at once (the console's map of every lamp).
        """

    @abstractmethod
    async def last_seen(self, device_ids: Collection[str] | None = None) -> dict[str, datetime]:
        """When each device last reported anything; devices never seen are absent."""

    @abstractmethod
    async def history(self, device_id: str, metric: str, start: datetime, end: datetime) -> list[Reading]:
        """Raw readings of one series with ``start <= ts < end``, oldest first."""

    @abstractmethod
    async def write_flags(self, flagged: Sequence[FlaggedReading]) -> None:
        """Store readings the quality checks flagged, in one transaction; a reading flagged twice keeps its first
        flags. Raises :class:`~telemetry_store.errors.StoreUnavailable` as :meth:`write` does."""

    @abstractmethod
    async def flagged(self, start: datetime, end: datetime, *, device_id: str | None = None,
                      metric: str | None = None, limit: int = 10_000) -> list[FlaggedReading]:
        """Flagged readings with ``start <= ts < end`` (of one device, one metric, or all), oldest first."""

    @abstractmethod
    async def buckets(
        self, device_id: str, metric: str, start: datetime, end: datetime, bucket: timedelta
    ) -> list[Bucket]:
        """Min/max/avg/count per ``bucket``-wide interval (aligned on the Unix epoch) that meets
        ``[start, end)``; each bucket summarises its whole interval. Only buckets with readings appear.

        Reads the coarsest resolution that answers the width (:func:`~telemetry_store.model.resolution_for`):
        hourly rollups for whole hours, minute rollups for whole minutes, raw readings otherwise;
        what the rollups do not cover yet comes from the finer data.
        """

    @abstractmethod
    async def refresh_rollups(self, now: datetime) -> int:
        """Bring the 1-minute and 1-hour rollups up to ``now`` (complete buckets only); return buckets rebuilt."""

    @abstractmethod
    async def rollup_watermarks(self) -> dict[Resolution, datetime]:
        """Up to when each rollup is complete (absent: never refreshed)."""

    @abstractmethod
    async def retention_plan(self, now: datetime) -> list[RetentionStep]:
        """What :meth:`apply_retention` would drop at ``now``, per resolution."""

    @abstractmethod
    async def apply_retention(self, now: datetime) -> list[RetentionStep]:
        """Drop data past each resolution's retention; return what was dropped."""


def retention_keep(settings: StoreSettings) -> dict[Resolution, timedelta | None]:
    """How long each resolution is kept (``None``: forever)."""
    hours = settings.hour_retention_days
    return {
        Resolution.raw: timedelta(days=settings.raw_retention_days),
        Resolution.minute: timedelta(days=settings.minute_retention_days),
        Resolution.hour: None if hours is None else timedelta(days=hours),
    }


TABLES = {Resolution.raw: "readings", Resolution.minute: "readings_1m", Resolution.hour: "readings_1h"}


def split_by_watermark(
    lo: datetime, hi: datetime, resolution: Resolution, watermarks: dict[Resolution, datetime]
) -> list[tuple[Resolution, datetime, datetime]]:
    """Cut ``[lo, hi)`` into pieces read from ``resolution`` and, past its watermark, finer data.

    A rollup is complete only up to its watermark; beyond it the query reads the next finer
    source, down to raw readings (as TimescaleDB's real-time aggregates do).
    """
    chain = [r for r in (Resolution.hour, Resolution.minute) if r.width <= resolution.width] + [Resolution.raw]
    if resolution is Resolution.raw:
        chain = [Resolution.raw]
    pieces: list[tuple[Resolution, datetime, datetime]] = []
    cursor = lo
    for source in chain:
        mark = watermarks.get(source) if source is not Resolution.raw else hi
        if mark is None:
            continue
        upper = min(hi, mark)
        if upper > cursor:
            pieces.append((source, cursor, upper))
            cursor = upper
        if cursor >= hi:
            break
    return pieces
