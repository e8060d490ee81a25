"""Time as a parameter: rules, schedules, backoff and offline detection ask a clock for ``now``.

Production code gets :class:`SystemClock`; tests get :class:`FakeClock` and move time by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told.

    >>> clock = FakeClock(datetime(2026, 7, 1, tzinfo=UTC))
    >>> clock.advance(seconds=30).isoformat()
    '2026-07-01T00:00:30+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._monotonic = 1_000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, delta: timedelta | None = None, *, seconds: float = 0.0) -> datetime:
        step = (delta or timedelta()) + timedelta(seconds=seconds)
        if step < timedelta():
            raise ValueError("time does not go back")
        self._now += step
        self._monotonic += step.total_seconds()
        return self._now
