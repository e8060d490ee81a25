"""Sliding windows over one metric of one device, on the readings' own timestamps.

The change over a window is the least-squares slope of the samples times the window length, so
irregular sampling (a gauge that reports every 5 minutes when calm and every 10 s when the water
rises) does not bias it; it is only trusted once the samples span enough of the window.

>>> w = SampleWindow(600)
>>> for t, v in [(0, 100), (200, 120), (410, 141), (600, 160)]: w.add(t, v)
>>> round(w.change(min_samples=3, min_coverage=0.5))
60
"""

from __future__ import annotations

import bisect
from collections import deque

MAX_SAMPLES = 4096
"""A window keeps at most this many samples (the oldest go first), whatever the sampling rate."""


class SampleWindow:
    # Two lists, not deques: a deque takes a 64-slot block (about 600 bytes) even for one sample,
    # and most windows hold a few samples (20,000 gauges kept 28 MB of deques). The old samples go
    # in one slice deletion per add.
    __slots__ = ("times", "values", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.times: list[float] = []
        self.values: list[float] = []

    def add(self, t: float, value: float) -> None:
        times, values = self.times, self.values
        if not times or t >= times[-1]:
            times.append(t)
            values.append(value)
        else:  # late sample: keep the window in time order
            index = bisect.bisect_right(times, t)
            times.insert(index, t)
            values.insert(index, value)
        old = max(bisect.bisect_left(times, times[-1] - self.window_s), len(times) - MAX_SAMPLES)
        if old > 0:
            del times[:old]
            del values[:old]

    def __len__(self) -> int:
        return len(self.times)

    def span_s(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0

    def change(self, *, min_samples: int = 3, min_coverage: float = 0.5) -> float | None:
        """Least-squares slope × window length; None until enough samples span enough of the window."""
        n = len(self.times)
        if n < min_samples or self.span_s() < min_coverage * self.window_s:
            return None
        ref = self.times[-1]
        ts = [t - ref for t in self.times]
        mean_t = sum(ts) / n
        mean_v = sum(self.values) / n
        var_t = sum((t - mean_t) ** 2 for t in ts)
        if var_t == 0:
            return None
        cov = sum((t - mean_t) * (v - mean_v) for t, v in zip(ts, self.values, strict=True))
        return cov / var_t * self.window_s

    def minimum(self) -> float | None:
        return min(self.values) if self.values else None

    def maximum(self) -> float | None:
        return max(self.values) if self.values else None

    def mean(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None


class TransitionCounter:
    """How often a two-state metric (``relay_on``) changed state within the window.

    >>> c = TransitionCounter(3600)
    >>> for t, v in [(0, 0), (60, 1), (120, 0), (180, 1)]: c.add(t, v)
    >>> c.count()
    3
    """

    __slots__ = ("last_t", "state", "times", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.times: deque[float] = deque()
        self.state: bool | None = None
        self.last_t = float("-inf")

    def add(self, t: float, value: float) -> None:
        if t < self.last_t:
            return  # a late sample cannot be placed between states already counted
        state = bool(value)
        if self.state is not None and state != self.state:
            self.times.append(t)
        self.state, self.last_t = state, t
        while self.times and self.times[0] < t - self.window_s:
            self.times.popleft()

    def count(self) -> int:
        return len(self.times)
