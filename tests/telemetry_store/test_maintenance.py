"""The maintenance job on a real store, driven by a fake clock: no waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streetwatch.clock import FakeClock
from streetwatch.readings import Reading
from telemetry_store import Resolution, TelemetryStore
from telemetry_store.maintenance import run_maintenance


class Stop(Exception):
    pass


async def test_refreshes_each_minute_and_applies_retention(store: TelemetryStore) -> None:
    clock = FakeClock(datetime(2026, 6, 1, 0, 0, 30, tzinfo=UTC))
    old = Reading("g-1", "water_level_mm", clock.now() - timedelta(days=120), 1.0)
    await store.write([old, Reading("g-1", "water_level_mm", clock.now() - timedelta(seconds=20), 2.0)])
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise Stop
        clock.advance(seconds=seconds)

    with pytest.raises(Stop):
        await run_maintenance(store, clock, wait=wait)
    assert waits[0] == pytest.approx(32.0)  # to 2 s past the next minute
    assert waits[1:] == [pytest.approx(60.0), pytest.approx(60.0)]
    marks = await store.rollup_watermarks()
    assert marks[Resolution.minute] == datetime(2026, 6, 1, 0, 2, tzinfo=UTC)
    assert [r.value for r in await store.history("g-1", "water_level_mm", old.ts, clock.now())] == [2.0]
    minutes = await store.buckets("g-1", "water_level_mm", old.ts, clock.now(), timedelta(minutes=1))
    assert [b.count for b in minutes] == [1, 1]  # the old reading lives on in its minute rollup
