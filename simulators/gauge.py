"""A radar water-level gauge over a culvert: what it measures and reports, faults included.

The gauge hangs ``mounting_height_mm`` above the culvert floor and measures the distance down to
the water; the level is the height minus that distance. The true level comes from a
:class:`~simulators.rain.CulvertLevel`; on top of it the sensor adds what real ones do:

* noise (more on fast, turbulent water) rounded to whole millimetres;
* a blanking distance: water closer than ``blanking_mm`` to the sensor reads as ``blanking_mm``;
* a battery that drains slowly (fast with the ``low_battery`` fault) and browns out: silent;
* a signal that fades in heavy rain;
* faults: ``stuck_sensor`` (the same reading over and over), ``dropout`` (silent for a while),
  ``echo_spikes`` (now and then a false echo reads far too high), ``below_floor`` (a sensor knocked
  off its bracket reads under the culvert floor), ``weak_signal`` (a radio that barely gets through).

>>> from simulators.rain import CulvertLevel, CulvertResponse, Rainfall
>>> gauge = GaugeModel(CulvertLevel(Rainfall(), CulvertResponse()), GaugeSpec(), seed=1, device_id="CG-001")
>>> sample = gauge.sample(60.0)
>>> sample is not None and abs(sample.water_level_mm - 40) < 15
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from simulators.faults import FaultWindow
from simulators.rain import CulvertLevel
from simulators.seeding import rng_for

SECONDS_PER_DAY = 86_400.0


class GaugeFault(StrEnum):
    stuck_sensor = "stuck_sensor"
    low_battery = "low_battery"
    dropout = "dropout"
    echo_spikes = "echo_spikes"
    below_floor = "below_floor"
    weak_signal = "weak_signal"


@dataclass(frozen=True, slots=True)
class GaugeSpec:
    """One gauge's installation and sensor characteristics."""

    mounting_height_mm: float = 2500.0
    blanking_mm: float = 150.0
    noise_mm: float = 2.0
    turbulence_noise_per_mm: float = 0.004  # extra noise σ per mm of level: fast water is rough
    battery_start_v: float = 3.95
    battery_drain_v_per_day: float = 0.002
    failing_cell_drain_v_per_h: float = 0.6  # the low_battery fault: a cell going bad
    brownout_v: float = 3.1  # below this the radio cannot transmit
    signal_base_pct: float = 80.0
    rain_fade_pct_per_mm_h: float = 0.15
    echo_chance: float = 0.05  # echo_spikes: the share of readings that catch a false echo
    echo_mm: tuple[float, float] = (300.0, 900.0)  # how much higher a false echo reads
    knocked_off_mm: float = 250.0  # below_floor: the sensor hangs this much lower, reading past the floor
    weak_signal_pct: tuple[float, float] = (2.0, 8.0)


@dataclass(frozen=True, slots=True)
class GaugeSample:
    """What the gauge reports at one instant (``t_s`` after the origin)."""

    t_s: float
    water_level_mm: float
    distance_mm: float
    battery_v: float
    signal_quality_pct: float


class GaugeModel:
    """One gauge: ``sample(t_s)`` is what it would report then, or None when it is silent."""

    def __init__(self, culvert: CulvertLevel, spec: GaugeSpec, *, seed: int, device_id: str,
                 faults: Mapping[GaugeFault, FaultWindow] | None = None) -> None:
        self.culvert = culvert
        self.spec = spec
        self.device_id = device_id
        self.faults = dict(faults or {})
        self._rng = rng_for(seed, device_id, "gauge")
        self._stuck_sample: GaugeSample | None = None

    def _fault(self, fault: GaugeFault, t_s: float) -> bool:
        window = self.faults.get(fault)
        return window is not None and window.active(t_s)

    def battery_v(self, t_s: float) -> float:
        s = self.spec
        volts = s.battery_start_v - s.battery_drain_v_per_day * max(t_s, 0.0) / SECONDS_PER_DAY
        window = self.faults.get(GaugeFault.low_battery)
        if window is not None and t_s >= window.start_s:
            failing_s = min(t_s, window.end_s) - window.start_s
            volts -= s.failing_cell_drain_v_per_h * failing_s / 3600.0
        return max(volts, 0.0)

    def true_level_mm(self, t_s: float) -> float:
        return self.culvert.level_mm_at(t_s)

    def silent(self, t_s: float) -> bool:
        """True while the gauge sends nothing: a dropout, or a battery too low to transmit."""
        return self._fault(GaugeFault.dropout, t_s) or self.battery_v(t_s) < self.spec.brownout_v

    def sample(self, t_s: float) -> GaugeSample | None:
        if self.silent(t_s):
            return None
        if self._fault(GaugeFault.stuck_sensor, t_s):
            if self._stuck_sample is None:
                self._stuck_sample = self._measure(t_s)
            stuck = self._stuck_sample
            # A stuck sensor repeats its reading; the battery and the radio carry on.
            return GaugeSample(t_s, stuck.water_level_mm, stuck.distance_mm, self._battery_reading(t_s),
                               self._signal(t_s))
        self._stuck_sample = None
        return self._measure(t_s)

    def _measure(self, t_s: float) -> GaugeSample:
        s = self.spec
        level = self.true_level_mm(t_s)
        sigma = s.noise_mm + s.turbulence_noise_per_mm * level
        distance = s.mounting_height_mm - level + self._rng.gauss(0.0, sigma)
        if self._fault(GaugeFault.echo_spikes, t_s) and self._rng.random() < s.echo_chance:
            distance -= self._rng.uniform(*s.echo_mm)
        if self._fault(GaugeFault.below_floor, t_s):
            distance = s.mounting_height_mm + s.knocked_off_mm + self._rng.gauss(0.0, s.noise_mm)
        distance = float(round(max(distance, s.blanking_mm)))
        return GaugeSample(t_s, s.mounting_height_mm - distance, distance, self._battery_reading(t_s),
                           self._signal(t_s))

    def _battery_reading(self, t_s: float) -> float:
        return round(self.battery_v(t_s) + self._rng.gauss(0.0, 0.004), 3)

    def _signal(self, t_s: float) -> float:
        s = self.spec
        if self._fault(GaugeFault.weak_signal, t_s):
            return float(round(self._rng.uniform(*s.weak_signal_pct)))
        fade = s.rain_fade_pct_per_mm_h * self.culvert.rainfall.intensity_mm_h(t_s)
        return float(round(min(max(s.signal_base_pct - fade + self._rng.gauss(0.0, 2.0), 0.0), 100.0)))
