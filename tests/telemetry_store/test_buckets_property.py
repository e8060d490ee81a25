"""Bucketed queries equal a brute-force computation, whatever the data, width, range and refresh point."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streetwatch.config import DatabaseUrl, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import open_store
from tests.telemetry_store.brute import assert_same_buckets, brute_buckets

BASE = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_US = 3 * 86_400_000_000
WIDTHS = [timedelta(seconds=s) for s in (1, 45, 60, 90, 300, 420, 3600, 7200, 6 * 3600, 86_400)]
_examples = itertools.count()

offsets_us = st.integers(0, SPAN_US)
values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.lists(st.tuples(offsets_us, values), min_size=1, max_size=60, unique_by=lambda p: p[0]),
    after=st.lists(st.tuples(offsets_us, values), max_size=20, unique_by=lambda p: p[0]),
    refresh_at_us=st.none() | offsets_us,
    query=st.tuples(offsets_us, offsets_us, st.sampled_from(WIDTHS)),
)
async def test_buckets_match_brute_force(
    database_url: str, before: list[tuple[int, float]], after: list[tuple[int, float]], refresh_at_us: int | None,
    query: tuple[int, int, timedelta],
) -> None:
    # Each example gets its own device and a later stretch of time, so examples in one database
    # do not meet (rollup watermarks only move forward, as real time does).
    n = next(_examples)
    device, base = f"dev-{n}", BASE + timedelta(days=5 * n)
    first = [Reading(device, "level_mm", base + timedelta(microseconds=o), v) for o, v in before]
    async with open_store(DatabaseUrl.parse(database_url), StoreSettings()) as store:
        await store.write(first)
        written = list(first)
        if refresh_at_us is not None:
            now = base + timedelta(microseconds=refresh_at_us)
            await store.refresh_rollups(now)
            # Readings that come after the refresh, in order: the query must add them from raw data.
            taken = {r.ts for r in first}
            later = []
            for offset_us, value in after:
                ts = now + timedelta(microseconds=offset_us // 3)
                if ts not in taken:  # one value per instant, as the store keeps
                    taken.add(ts)
                    later.append(Reading(device, "level_mm", ts, value))
            await store.write(later)
            written += later
        start, end = sorted(base + timedelta(microseconds=q) for q in query[:2])
        width = query[2]
        got = await store.buckets(device, "level_mm", start, end, width)
    assert_same_buckets(got, brute_buckets(written, start, end, width))
