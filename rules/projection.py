"""Time to a level: a robust fit of the recent rise and its projection, with the fit's uncertainty.

The slope is **Theil–Sen**'s: the median of the slopes between every pair of samples. Up to
29 % of the samples can be wild (a wave, a leaf on the sensor, a radio blip) without moving it;
a single spike moves it by at most one rank. The level now is the median of ``value − slope · t``
at the newest time, so a spike in the newest reading does not move it either. The uncertainty is
Sen's 95 % confidence interval of the slope (from the ranks of the pairwise slopes), which gives
the earliest and latest times the level may be reached.

>>> window = FitWindow(600)
>>> for t in range(0, 301, 30): window.add(float(t), 400.0 + 0.5 * t)   # 30 mm per minute
>>> window.add(305.0, 900.0)                          # a spike; the line is at 552.5 then
>>> p = window.fit().projection(800.0)
>>> round(p.slope_per_s * 60), round(p.level_now), round(p.eta_s)
(30, 552, 495)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from rules.windows import SampleWindow

MAX_FIT_SAMPLES = 40
"""At most this many samples (spread evenly over the window) enter a fit: 780 pairwise slopes."""
Z_95 = 1.959964


@dataclass(frozen=True, slots=True)
class Projection:
    """When ``level`` is reached at the current rise: ``eta_s`` seconds after the newest sample,
    between ``earliest_s`` and ``latest_s`` (``inf``: maybe never) with 95 % confidence."""

    level: float
    level_now: float
    slope_per_s: float
    eta_s: float
    earliest_s: float
    latest_s: float
    samples: int


def theil_sen(times: list[float], values: list[float]) -> tuple[float, float, float, float]:
    """(slope, intercept at t = 0, slope's 95 % lower bound, upper bound) of the samples."""
    n = len(times)
    slopes = sorted((values[j] - values[i]) / (times[j] - times[i])
                    for i in range(n) for j in range(i + 1, n) if times[j] != times[i])
    count = len(slopes)
    if count == 0:
        raise ValueError("a fit needs samples at two different times")
    slope = median(slopes)
    intercept = median([v - slope * t for t, v in zip(times, values, strict=True)])
    # Sen (1968): the confidence bounds are the slopes at ranks (N ∓ C) / 2, C = z · sqrt(var of Kendall's S).
    c = Z_95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    low_rank = max(math.floor((count - c) / 2.0), 0)
    high_rank = min(math.ceil((count + c) / 2.0), count - 1)
    return slope, intercept, slopes[low_rank], slopes[high_rank]


def median(sorted_or_not: list[float]) -> float:
    """The median of a short list (faster than :func:`statistics.median` at this size)."""
    data = sorted(sorted_or_not)
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2.0


class FitWindow(SampleWindow):
    """The samples of one series over the last ``window_s`` seconds, on the readings' own times."""

    __slots__ = ()

    def thinned(self) -> tuple[list[float], list[float]]:
        """At most :data:`MAX_FIT_SAMPLES` samples spread over the window, newest first (always in)."""
        step = max(1, math.ceil(len(self.times) / MAX_FIT_SAMPLES))
        return (list(itertools.islice(reversed(self.times), 0, None, step)),
                list(itertools.islice(reversed(self.values), 0, None, step)))

    def rough_slope(self) -> float | None:
        """The rise between the medians of the older and the newer half, per second: a cheap gate
        (a few microseconds) that spares a calm series the full fit."""
        times, values = self.thinned()
        n = len(times)
        if n < 4:
            return None
        half = n // 2  # newest first: the first half is the newer
        dt = (times[0] + times[half - 1]) / 2.0 - (times[half] + times[-1]) / 2.0
        return (median(values[:half]) - median(values[half:])) / dt if dt > 0 else None

    def fit(self) -> Fit | None:
        """The robust fit of the window (None with fewer than 3 samples or one time only)."""
        if len(self.times) < 3:
            return None
        times, values = self.thinned()
        ref = times[0]
        try:
            slope, now, low, high = theil_sen([t - ref for t in times], values)
        except ValueError:
            return None
        return Fit(slope, now, low, high, len(times))


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted rise at the newest sample: ``slope_per_s`` within [``low``, ``high``] (95 %)."""

    slope_per_s: float
    level_now: float
    low: float
    high: float
    samples: int

    def projection(self, level: float) -> Projection | None:
        """When the series reaches ``level`` at this rise (already there: None)."""
        if self.level_now >= level:
            return None
        gap = level - self.level_now
        eta = gap / self.slope_per_s if self.slope_per_s > 0 else math.inf
        earliest = gap / self.high if self.high > 0 else math.inf
        latest = gap / self.low if self.low > 0 else math.inf
        return Projection(level, self.level_now, self.slope_per_s, eta, earliest, latest, self.samples)
