"""Which bucket ranges a rollup refresh rebuilds: pure logic shared by both backends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


def contiguous_ranges(starts: Iterable[datetime], width: timedelta) -> list[tuple[datetime, datetime]]:
    """Merge bucket starts into ``[lo, hi)`` ranges, so a rebuild scans each stretch once.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [(a.minute, b.minute) for a, b in contiguous_ranges([t, t.replace(minute=1), t.replace(minute=5)],
    ...                                                      timedelta(minutes=1))]
    [(0, 2), (5, 6)]
    """
    ranges: list[tuple[datetime, datetime]] = []
    for start in sorted(set(starts)):
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + width)
        else:
            ranges.append((start, start + width))
    return ranges
