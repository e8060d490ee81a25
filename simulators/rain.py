"""Rain events and how a culvert's water level answers them.

Rain is a set of :class:`RainEvent` (an intensity profile in mm/h over time, offsets in seconds
from the scenario's origin). A culvert turns rain into a water level through two linear
reservoirs in series (a Nash cascade of two, the classic unit-hydrograph shape):

* the **catchment** store (time constant ``lag_s``) delays the runoff: streets and gullies
  take a while to deliver the rain to the culvert;
* the **culvert pool** store (time constant ``drain_s``) holds the water and lets it drain away.

Both are in "mm/h of effective rain" so the level is simply::

    level_mm = base_level_mm + gain_mm_per_mm_h × pool

At a steady rain of ``i`` mm/h the level settles at ``base + gain × i``; after the rain stops
it falls back to ``base`` with the two time constants. For constant input over a step the
cascade has an exact solution, so integration is stable for any step length and costs nothing
during dry spells. Steps lie on a fixed grid from the origin, which makes a level depend only on
the time asked, never on how often it was asked.

>>> rain = Rainfall.parse("30s+120s@80mm/h")
>>> culvert = CulvertLevel(rain, CulvertResponse(lag_s=15, drain_s=30))
>>> round(culvert.level_mm_at(0))
40
>>> culvert.level_mm_at(150) > 800
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

SECONDS_PER_HOUR = 3600.0


class RainShape(StrEnum):
    """``block``: the same intensity throughout; ``triangle``: rises to the peak at 40 % of the
    duration and falls back (an advanced storm, as design storms are usually drawn)."""

    block = "block"
    triangle = "triangle"


_TRIANGLE_PEAK_AT = 0.4


@dataclass(frozen=True, slots=True)
class RainEvent:
    """Rain from ``start_s`` for ``duration_s`` seconds, ``peak_mm_h`` at its strongest."""

    start_s: float
    duration_s: float
    peak_mm_h: float
    shape: RainShape = RainShape.block

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"rain duration must be positive, not {self.duration_s:g} s")
        if self.peak_mm_h < 0:
            raise ValueError(f"rain intensity cannot be negative ({self.peak_mm_h:g} mm/h)")
        if self.start_s < 0:
            raise ValueError(f"rain cannot start before the scenario ({self.start_s:g} s)")

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def intensity_mm_h(self, t_s: float) -> float:
        if not self.start_s <= t_s < self.end_s:
            return 0.0
        if self.shape is RainShape.block:
            return self.peak_mm_h
        fraction = (t_s - self.start_s) / self.duration_s
        if fraction < _TRIANGLE_PEAK_AT:
            return self.peak_mm_h * fraction / _TRIANGLE_PEAK_AT
        return self.peak_mm_h * (1.0 - fraction) / (1.0 - _TRIANGLE_PEAK_AT)

    def depth_mm(self, t0_s: float, t1_s: float) -> float:
        """Rain that falls between two instants (the exact integral of the intensity)."""
        a, b = max(t0_s, self.start_s), min(t1_s, self.end_s)
        if b <= a:
            return 0.0
        if self.shape is RainShape.block:
            return self.peak_mm_h * (b - a) / SECONDS_PER_HOUR
        # Piecewise linear: integrate each side of the peak with the trapezoid rule (exact).
        peak_s = self.start_s + _TRIANGLE_PEAK_AT * self.duration_s
        total = 0.0
        for lo, hi in ((a, min(b, peak_s)), (max(a, peak_s), b)):
            if hi > lo:
                total += (self.intensity_mm_h(lo) + self._intensity_left(hi)) / 2 * (hi - lo)
        return total / SECONDS_PER_HOUR

    def _intensity_left(self, t_s: float) -> float:
        # The limit from the left, so the event's last instant integrates to zero, not a gap.
        if t_s >= self.end_s:
            return 0.0 if self.shape is RainShape.triangle else self.peak_mm_h
        return self.intensity_mm_h(t_s)

    def describe(self) -> str:
        shape = "" if self.shape is RainShape.block else f" ({self.shape.value})"
        return f"{_fmt_s(self.start_s)}+{_fmt_s(self.duration_s)}@{self.peak_mm_h:g}mm/h{shape}"


_DURATION = r"(\d+(?:\.\d+)?)(ms|s|m|min|h)?"
_EVENT = re.compile(rf"^{_DURATION}\+{_DURATION}@(\d+(?:\.\d+)?)(?:mm/h)?(?::(block|triangle))?$")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration_s(text: str) -> float:
    """``90`` / ``90s`` / ``2m`` / ``1.5h`` → seconds.

    >>> parse_duration_s("2m")
    120.0
    """
    match = re.fullmatch(_DURATION, text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 2m, 1h)")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _fmt_s(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class Rainfall:
    """Every rain event of a scenario; intensities of overlapping events add up."""

    events: tuple[RainEvent, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Rainfall:
        """``START+DURATION@INTENSITY[:shape]``, comma-separated, e.g. ``30s+120s@80mm/h,10m+5m@20mm/h``."""
        events = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            match = _EVENT.match(part.replace(" ", ""))
            if not match:
                raise ValueError(f"rain {part!r}: expected START+DURATION@INTENSITY such as 30s+120s@80mm/h")
            start = float(match.group(1)) * _UNIT_S[match.group(2)]
            duration = float(match.group(3)) * _UNIT_S[match.group(4)]
            shape = RainShape(match.group(6) or "block")
            try:
                events.append(RainEvent(start, duration, float(match.group(5)), shape))
            except ValueError as exc:
                raise ValueError(f"rain {part!r}: {exc}") from None
        return cls(tuple(sorted(events, key=lambda e: e.start_s)))

    def intensity_mm_h(self, t_s: float) -> float:
        return sum(e.intensity_mm_h(t_s) for e in self.events)

    def depth_mm(self, t0_s: float, t1_s: float) -> float:
        return sum(e.depth_mm(t0_s, t1_s) for e in self.events)

    def next_wet_s(self, t_s: float) -> float:
        """The first instant at or after ``t_s`` when it rains (``inf`` if never)."""
        starts = [max(e.start_s, t_s) for e in self.events if e.end_s > t_s]
        return min(starts, default=math.inf)

    @property
    def end_s(self) -> float:
        return max((e.end_s for e in self.events), default=0.0)

    def describe(self) -> str:
        return ", ".join(e.describe() for e in self.events) or "dry"


@dataclass(frozen=True, slots=True)
class CulvertResponse:
    """How one culvert answers rain. Defaults: a small urban catchment in real time.

    ``gain_mm_per_mm_h``: level rise per mm/h of steady rain (catchment area × runoff
    coefficient ÷ culvert outflow capacity, folded into one number). ``lag_s``: catchment
    routing time constant. ``drain_s``: culvert pool drainage time constant. ``base_level_mm``:
    dry-weather flow. ``max_level_mm``: where the water can rise no further (road overtopping).
    """

    base_level_mm: float = 40.0
    gain_mm_per_mm_h: float = 12.0
    lag_s: float = 600.0
    drain_s: float = 1200.0
    max_level_mm: float = 3000.0

    def __post_init__(self) -> None:
        if self.lag_s <= 0 or self.drain_s <= 0:
            raise ValueError("lag_s and drain_s must be positive")
        if self.base_level_mm < 0 or self.gain_mm_per_mm_h < 0:
            raise ValueError("base_level_mm and gain_mm_per_mm_h cannot be negative")

    @property
    def step_s(self) -> float:
        """The integration grid: a tenth of the faster store, so the rain average per step is fine."""
        return min(self.lag_s, self.drain_s) / 10.0


def _cascade_step(x1: float, x2: float, u: float, dt: float, *, k1: float, k2: float) -> tuple[float, float]:
    """Exact state of two linear reservoirs after ``dt`` seconds of constant input ``u``."""
    e1, e2 = math.exp(-dt / k1), math.exp(-dt / k2)
    a = x1 - u
    # Equal time constants make the general formula 0/0; its limit is a·(dt/k)·e^(−dt/k).
    same = math.isclose(k1, k2, rel_tol=1e-9)
    coupling = a * (dt / k1) * e1 if same else a * k1 / (k1 - k2) * (e1 - e2)
    return u + a * e1, u + (x2 - u) * e2 + coupling


class CulvertLevel:
    """A culvert's water level over time for one rainfall (a deterministic integrator).

    Asking for a later time continues from the last grid point; asking for an earlier one
    starts again from the origin, so any order of questions gives the same answers.
    """

    def __init__(self, rainfall: Rainfall, response: CulvertResponse) -> None:
        self.rainfall = rainfall
        self.response = response
        self._step = response.step_s
        self._reset()

    def _reset(self) -> None:
        self._t = 0.0  # the grid point the state belongs to
        self._x1 = 0.0  # catchment store, mm/h of effective rain
        self._x2 = 0.0  # culvert pool store, mm/h

    def _advance_grid(self, t_s: float) -> None:
        r, step = self.response, self._step
        while self._t + step <= t_s:
            wet_at = self.rainfall.next_wet_s(self._t)
            if wet_at >= self._t + step:
                # A dry spell: jump over whole grid steps at once (exact with zero input).
                # At least one: the loop's condition says a whole step fits, even when rounding
                # makes (t + step - t) / step come out a hair below 1.
                dry_steps = max(math.floor((min(wet_at, t_s) - self._t) / step), 1)
                dt = dry_steps * step
                self._x1, self._x2 = _cascade_step(self._x1, self._x2, 0.0, dt, k1=r.lag_s, k2=r.drain_s)
                self._t += dt
                continue
            u = self.rainfall.depth_mm(self._t, self._t + step) * SECONDS_PER_HOUR / step
            self._x1, self._x2 = _cascade_step(self._x1, self._x2, u, step, k1=r.lag_s, k2=r.drain_s)
            self._t += step

    def pool_mm_h(self, t_s: float) -> float:
        """The routed rain reaching the culvert at ``t_s`` (mm/h)."""
        if t_s <= 0:
            return 0.0
        if t_s < self._t:
            self._reset()
        self._advance_grid(t_s)
        r = self.response
        partial = t_s - self._t
        if partial <= 0:
            return max(self._x2, 0.0)
        # The rain of the partial step only: nothing shows before the rain has started.
        u = self.rainfall.depth_mm(self._t, t_s) * SECONDS_PER_HOUR / partial
        _, x2 = _cascade_step(self._x1, self._x2, u, partial, k1=r.lag_s, k2=r.drain_s)
        return max(x2, 0.0)

    def level_mm_at(self, t_s: float) -> float:
        """Water over the culvert floor at ``t_s`` seconds after the origin (never negative)."""
        r = self.response
        return min(r.base_level_mm + r.gain_mm_per_mm_h * self.pool_mm_h(t_s), r.max_level_mm)


def levels(rainfall: Rainfall, response: CulvertResponse, times_s: Iterable[float]) -> list[float]:
    """The level at each of ``times_s`` (a convenience for plots and tests)."""
    culvert = CulvertLevel(rainfall, response)
    return [culvert.level_mm_at(t) for t in times_s]
