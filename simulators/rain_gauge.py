"""A tipping-bucket rain gauge: what it counts and reports, from the scenario's rain.

Rain falls into a funnel and fills a small bucket of ``bucket_mm`` (0.2 mm usual); when full it tips,
empties and counts one. The gauge reports the tips of each complete counting interval (and a
running total), never a fraction of a tip: at 2 mm/h a 0.2 mm bucket tips every six minutes, so a
one-minute interval reads 0 or 1 tip. What real gauges do besides:

* **catch** varies from place to place (a storm cell is not the same over a district): a factor per
  gauge from the scenario seed;
* **undercatch** grows with intensity: water pours in while the bucket tips and is lost, about
  ``undercatch_per_mm_h`` of the catch per mm/h (5 % at 100 mm/h by default);
* faults: ``clogged`` (leaves in the funnel: no tips at all), ``low_battery`` (a cell draining fast).

Counting is on a fixed grid of intervals from the origin, and the water left in the bucket is
carried from interval to interval, so the tips over a storm add up to its depth (less undercatch)
and a report depends only on the time asked, never on how often it was asked.

>>> from simulators.design_storm import chicago_storm
>>> storm = chicago_storm(start_s=0, duration_s=3600, return_period_years=2)
>>> gauge = RainGaugeModel(storm, RainGaugeSpec(catch=1.0), device_id="RG-1", seed=1)
>>> sum(gauge.sample(t).tips for t in range(60, 3601, 60)) * 0.2 <= storm.depth_mm(0, 3600)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from simulators.faults import FaultWindow
from simulators.rain import SECONDS_PER_HOUR, Rainfall
from simulators.seeding import rng_for


class RainGaugeFault(StrEnum):
    clogged = "clogged"
    low_battery = "low_battery"


@dataclass(frozen=True, slots=True)
class RainGaugeSpec:
    bucket_mm: float = 0.2
    interval_s: float = 60.0
    catch: float | None = None  # None: drawn per gauge from the seed (0.85-1.15)
    undercatch_per_mm_h: float = 0.0005
    battery_start_v: float = 3.9
    battery_drain_v_per_day: float = 0.002
    failing_cell_drain_v_per_h: float = 0.6

    def __post_init__(self) -> None:
        if not 0.05 <= self.bucket_mm <= 1.0:
            raise ValueError(f"bucket {self.bucket_mm:g} mm: between 0.05 and 1 mm")
        if self.interval_s < 10:
            raise ValueError(f"counting interval {self.interval_s:g} s: at least 10 s")


@dataclass(frozen=True, slots=True)
class RainGaugeSample:
    """The latest complete interval at an instant: it ended at ``t_s`` (seconds after the origin)."""

    t_s: float
    tips: int
    tips_total: int
    bucket_mm: float
    interval_s: float
    battery_v: float

    @property
    def rain_mm(self) -> float:
        return round(self.tips * self.bucket_mm, 4)

    @property
    def intensity_mm_h(self) -> float:
        return self.rain_mm * SECONDS_PER_HOUR / self.interval_s


class RainGaugeModel:
    """One gauge: ``sample(t_s)`` is its latest complete interval at ``t_s``."""

    def __init__(self, rainfall: Rainfall, spec: RainGaugeSpec, *, device_id: str, seed: int,
                 faults: Mapping[RainGaugeFault, FaultWindow] | None = None) -> None:
        self.rainfall = rainfall
        self.spec = spec
        rng = rng_for(seed, device_id, "rain-gauge")
        self.catch = spec.catch if spec.catch is not None else rng.uniform(0.85, 1.15)
        self.faults = dict(faults or {})
        self._totals = [0]  # tips counted by the end of each interval, from the origin
        self._water = 0.0  # mm in the bucket after the last interval counted

    def _interval_tips(self, index: int) -> int:
        """Count interval ``index`` (0-based), carrying the bucket's water on."""
        spec = self.spec
        start, end = index * spec.interval_s, (index + 1) * spec.interval_s
        clogged = self.faults.get(RainGaugeFault.clogged)
        if clogged is not None and clogged.active(start):
            return 0  # the funnel holds the water back (and overflows): nothing reaches the bucket
        fallen = self.rainfall.depth_mm(start, end) * self.catch
        intensity = fallen * SECONDS_PER_HOUR / spec.interval_s
        self._water += fallen * max(0.0, 1.0 - spec.undercatch_per_mm_h * intensity)
        tips = math.floor(self._water / spec.bucket_mm + 1e-9)
        self._water -= tips * spec.bucket_mm
        return tips

    def sample(self, t_s: float) -> RainGaugeSample:
        spec = self.spec
        done = max(math.floor(t_s / spec.interval_s + 1e-9), 0)  # complete intervals at t_s
        while len(self._totals) <= done:
            index = len(self._totals) - 1
            self._totals.append(self._totals[-1] + self._interval_tips(index))
        tips = self._totals[done] - self._totals[done - 1] if done else 0
        return RainGaugeSample(done * spec.interval_s, tips, self._totals[done] % 2**32, spec.bucket_mm,
                               spec.interval_s, self.battery_v(t_s))

    def battery_v(self, t_s: float) -> float:
        spec = self.spec
        volts = spec.battery_start_v - spec.battery_drain_v_per_day * t_s / 86_400.0
        failing = self.faults.get(RainGaugeFault.low_battery)
        if failing is not None and failing.active(t_s):
            volts -= spec.failing_cell_drain_v_per_h * (t_s - failing.start_s) / 3600.0
        return round(max(volts, 2.5), 2)

    def telemetry(self, t_s: float) -> dict[str, float]:
        """The MQTT profile's metrics (``sw-rain-gauge-mqtt``)."""
        s = self.sample(t_s)
        return {"rain_mm": s.rain_mm, "interval_s": s.interval_s, "battery_v": s.battery_v}

    def registers(self, t_s: float) -> dict[str, float]:
        """The Modbus profile's metrics (``sw-rain-gauge-modbus``)."""
        s = self.sample(t_s)
        return {"bucket_mm": s.bucket_mm, "interval_s": s.interval_s, "tips": float(s.tips),
                "tips_total": float(s.tips_total), "battery_v": s.battery_v}
