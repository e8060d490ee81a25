"""The store's own jobs: refresh the rollups every minute, apply retention every hour.

The gateway runs :func:`run_maintenance` as one named task in its TaskGroup. Time comes from a
clock and waiting from ``wait`` (``asyncio.sleep`` by default), so tests drive it without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from streetwatch.clock import Clock
from telemetry_store.contract import TelemetryStore
from telemetry_store.errors import StoreUnavailable
from telemetry_store.model import floor_time

log = logging.getLogger(__name__)


async def run_maintenance(
    store: TelemetryStore, clock: Clock, *, rollup_every: timedelta = timedelta(minutes=1),
    retention_every: timedelta = timedelta(hours=1),
    wait: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Refresh rollups just after each ``rollup_every`` boundary, apply retention each ``retention_every``.

    An outage is logged once and the job goes on at the next boundary; other errors propagate.
    """
    next_retention: datetime | None = None
    unavailable = False
    while True:
        now = clock.now()
        try:
            rebuilt = await store.refresh_rollups(now)
            if rebuilt:
                log.debug("rollups: %d bucket(s) rebuilt up to %s", rebuilt, now)
            if next_retention is None or now >= next_retention:
                await store.apply_retention(now)
                next_retention = floor_time(now, retention_every) + retention_every
            if unavailable:
                log.info("store maintenance resumed")
            unavailable = False
        except StoreUnavailable as exc:
            if not unavailable:
                log.error("store maintenance skipped, database unavailable: %s", exc)
            unavailable = True
        # A little after the boundary, so the bucket that just closed has its late stragglers.
        next_run = floor_time(now, rollup_every) + rollup_every + timedelta(seconds=2)
        await wait(max(0.0, (next_run - clock.now()).total_seconds()))
