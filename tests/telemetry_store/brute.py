"""A brute-force bucketing of readings: what the store's bucketed queries must equal."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from streetwatch.readings import Reading
from telemetry_store import Bucket
from telemetry_store.model import ceil_time, floor_time


def brute_buckets(readings: Iterable[Reading], start: datetime, end: datetime, width: timedelta) -> list[Bucket]:
    lo, hi = floor_time(start, width), ceil_time(end, width)
    groups: dict[datetime, list[float]] = {}
    for r in readings:
        if lo <= r.ts < hi:
            groups.setdefault(floor_time(r.ts, width), []).append(r.value)
    return [Bucket(s, min(v), max(v), sum(v) / len(v), len(v)) for s, v in sorted(groups.items())]


def assert_same_buckets(got: list[Bucket], expected: list[Bucket]) -> None:
    assert [(b.start, b.count, b.min, b.max) for b in got] == [(b.start, b.count, b.min, b.max) for b in expected]
    for g, e in zip(got, expected, strict=True):
        assert math.isclose(g.avg, e.avg, rel_tol=1e-9, abs_tol=1e-6), (g, e)
