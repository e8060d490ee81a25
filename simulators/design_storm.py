"""Design storms: the rain a city's drainage is designed for, as the simulators' storm rain.

Chinese drainage design (GB 50014) gives each city a storm intensity formula

    q = 167 · A1 · (1 + C · lg P) / (t + b)^n     (L/(s·ha); i = q / 167 mm/min)

for a return period of ``P`` years and a rain duration of ``t`` minutes, and draws the storm in time
with the **Chicago hyetograph** (Keifer and Chu, 1957): every window of ``t`` minutes around the
peak holds exactly the rain the formula gives for ``t``, so the storm is as intense as the city's
record for every duration at once. With the peak at ``peak_at`` of the duration (0.4 usual), the
intensity ``tb`` minutes before the peak and ``ta`` minutes after it is

    i(tb) = a·((1 − n)·tb / r + b) / (tb / r + b)^(1 + n)        a = A1·(1 + C·lg P), r = peak_at
    i(ta) = a·((1 − n)·ta / (1 − r) + b) / (ta / (1 − r) + b)^(1 + n)

The storm becomes a :class:`~simulators.rain.Rainfall` of one-minute blocks (the integral of each
minute), so the culverts and rain gauges of a scenario see the same rain.

>>> storm = chicago_storm(start_s=600, duration_s=7200, return_period_years=5)
>>> round(storm.depth_mm(0, 86_400))                      # two hours of a 5-year storm in Beijing
72
>>> round(max(storm.intensity_mm_h(t) for t in range(0, 9000, 60)))   # the peak minute
224
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.rain import RainEvent, Rainfall

STEP_S = 60.0


@dataclass(frozen=True, slots=True)
class StormFormula:
    """A city's storm intensity formula ``i = A1 (1 + C lg P) / (t + b)^n`` in mm/min (t in minutes)."""

    a1_mm_min: float
    c: float
    b_min: float
    n: float

    def intensity_mm_min(self, duration_min: float, return_period_years: float) -> float:
        """The mean intensity of the heaviest ``duration_min`` minutes of a storm of that return period."""
        return float(self.a(return_period_years) / (duration_min + self.b_min) ** self.n)

    def a(self, return_period_years: float) -> float:
        return self.a1_mm_min * (1.0 + self.c * math.log10(return_period_years))


BEIJING = StormFormula(a1_mm_min=2001.0 / 167.0, c=0.811, b_min=8.0, n=0.711)
"""Beijing's long-used formula, q = 2001 (1 + 0.811 lg P) / (t + 8)^0.711 L/(s·ha)."""


def chicago_intensity_mm_h(minutes_from_start: float, duration_min: float, return_period_years: float,
                           formula: StormFormula = BEIJING, peak_at: float = 0.4) -> float:
    """The Chicago hyetograph's intensity (mm/h) at a moment of the storm."""
    if not 0.0 <= minutes_from_start <= duration_min:
        return 0.0
    a, b, n = formula.a(return_period_years), formula.b_min, formula.n
    peak = peak_at * duration_min
    if minutes_from_start <= peak:
        x = (peak - minutes_from_start) / peak_at
    else:
        x = (minutes_from_start - peak) / (1.0 - peak_at)
    return float(60.0 * a * ((1.0 - n) * x + b) / (x + b) ** (1.0 + n))


def chicago_storm(*, start_s: float, duration_s: float, return_period_years: float,
                  formula: StormFormula = BEIJING, peak_at: float = 0.4, scale: float = 1.0) -> Rainfall:
    """The storm as one-minute blocks from ``start_s``; ``scale`` makes a place wetter or drier
    than the formula (a storm cell is rarely the same over a whole district)."""
    if duration_s < STEP_S:
        raise ValueError(f"a design storm lasts at least a minute, not {duration_s:g} s")
    if return_period_years < 1:
        raise ValueError(f"the return period is at least 1 year, not {return_period_years:g}")
    if not 0.05 <= peak_at <= 0.95:
        raise ValueError(f"peak_at {peak_at:g}: between 0.05 and 0.95")
    duration_min = duration_s / 60.0
    events = []
    for step in range(math.floor(duration_s / STEP_S)):
        lo, hi = float(step), float(step + 1)
        # Simpson's rule over the minute: the curve is smooth on each side of the peak.
        mid = (lo + hi) / 2.0
        mean = (chicago_intensity_mm_h(lo, duration_min, return_period_years, formula, peak_at)
                + 4.0 * chicago_intensity_mm_h(mid, duration_min, return_period_years, formula, peak_at)
                + chicago_intensity_mm_h(hi, duration_min, return_period_years, formula, peak_at)) / 6.0
        if mean * scale > 0:
            events.append(RainEvent(start_s + step * STEP_S, STEP_S, mean * scale))
    return Rainfall(tuple(events))
