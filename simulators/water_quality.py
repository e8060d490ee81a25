"""A river water-quality probe: daily cycles, rain runoff and pollution events.

What a multi-parameter probe in a small urban river sees (profile ``sw-water-quality-probe``):

* **temperature** follows the sun: coolest near dawn, warmest mid-afternoon;
* **dissolved oxygen** is the saturation value for that temperature (Benson & Krause) times a
  fraction that photosynthesis lifts by day and respiration lowers by night;
* **pH** follows photosynthesis too: plants take up CO₂ by day and the pH rises;
* **rain** washes sediment in (turbidity up) and dilutes the river (conductivity down),
  routed slowly through the catchment like a culvert's level;
* the same runoff carries organic matter and particle-bound phosphorus off streets and banks:
  the **permanganate index** and **total phosphorus** rise with it (urban storm runoff holds
  roughly 0.3–0.6 mg/L of phosphorus and 6–10 mg/L of permanganate index);
* a **pollution event** (a sewage overflow) is a pulse that rises to its peak and tails off:
  ammonia nitrogen, permanganate index, total phosphorus, turbidity and conductivity rise,
  dissolved oxygen and pH fall.

The pulse shape is ``g(τ) = (τ / τp) · e^(1 − τ/τp)``: zero at the start, 1 at ``τp`` (a fifth of
the event's duration), about 2 % of the peak when the duration has passed.

>>> from datetime import UTC, datetime
>>> model = WaterQualityModel(ProbeSite(), seed=1, device_id="WQ-001", origin=datetime(2026, 7, 1, tzinfo=UTC))
>>> 6.0 < model.sample(3600.0).ph < 9.0
True
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulators.faults import FaultWindow
from simulators.rain import CulvertLevel, CulvertResponse, Rainfall
from simulators.seeding import rng_for
from streetwatch.oxygen import oxygen_saturation_mg_l

# A river catchment answers rain far more slowly than a culvert.
RIVER_RESPONSE = CulvertResponse(base_level_mm=0.0, gain_mm_per_mm_h=1.0, lag_s=1800.0, drain_s=5400.0,
                                 max_level_mm=1e9)


def pulse(t_s: float, window: FaultWindow) -> float:
    """A pollution pulse's strength (0..1) at ``t_s``: rises to 1 at a fifth of the duration, tails off."""
    tau = t_s - window.start_s
    if tau <= 0:
        return 0.0
    duration = window.duration_s if math.isfinite(window.duration_s) else 1800.0
    peak_s = duration / 5.0
    return (tau / peak_s) * math.exp(1.0 - tau / peak_s)


@dataclass(frozen=True, slots=True)
class PollutionEvent:
    """What a sewage overflow adds at its peak."""

    window: FaultWindow
    ammonia_mg_l: float = 6.0
    permanganate_mg_l: float = 8.0
    phosphorus_mg_l: float = 0.6
    turbidity_ntu: float = 150.0
    conductivity_us_cm: float = 450.0
    oxygen_drop_fraction: float = 0.6
    ph_drop: float = 0.4


@dataclass(frozen=True, slots=True)
class ProbeSite:
    """The river where a probe hangs: its baseline chemistry and how strong the daily cycles are."""

    mean_temperature_c: float = 25.0
    temperature_swing_c: float = 1.5  # half of the daily range
    oxygen_fraction: float = 0.85  # of saturation, on daily average
    oxygen_swing: float = 0.12  # photosynthesis by day, respiration by night
    ph_mean: float = 7.3
    ph_swing: float = 0.25
    conductivity_us_cm: float = 420.0
    turbidity_ntu: float = 12.0
    ammonia_mg_l: float = 0.35
    permanganate_mg_l: float = 3.5
    phosphorus_mg_l: float = 0.12
    runoff_permanganate_per_mm_h: float = 0.15
    runoff_phosphorus_per_mm_h: float = 0.012
    runoff_turbidity_ntu_per_mm_h: float = 4.0
    runoff_dilution_per_mm_h: float = 0.01  # conductivity falls by this share per mm/h routed
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class WaterQualitySample:
    t_s: float
    ph: float
    dissolved_oxygen_mg_l: float
    turbidity_ntu: float
    conductivity_us_cm: float
    temperature_c: float
    ammonia_nitrogen_mg_l: float
    permanganate_index_mg_l: float
    total_phosphorus_mg_l: float

    def metrics(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "t_s"}


@dataclass
class WaterQualityModel:
    """One probe. ``sample(t_s)`` is what it measures ``t_s`` seconds after ``origin``."""

    site: ProbeSite
    seed: int
    device_id: str
    origin: datetime
    rainfall: Rainfall = field(default_factory=Rainfall)
    pollution: Sequence[PollutionEvent] = ()

    def __post_init__(self) -> None:
        self._rng = rng_for(self.seed, self.device_id, "water-quality")
        self._zone = zoneinfo.ZoneInfo(self.site.timezone)
        self._river = CulvertLevel(self.rainfall, RIVER_RESPONSE)

    def _sun(self, t_s: float) -> tuple[float, float]:
        """(temperature phase, photosynthesis phase), each −1..1, from the local time of day."""
        local = (self.origin + timedelta(seconds=t_s)).astimezone(self._zone)
        hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        warmth = math.cos(2 * math.pi * (hour - 15.0) / 24.0)  # warmest at 15:00
        light = math.cos(2 * math.pi * (hour - 14.0) / 24.0)  # oxygen peaks early afternoon
        return warmth, light

    def sample(self, t_s: float) -> WaterQualitySample:
        s, rng = self.site, self._rng
        warmth, light = self._sun(t_s)
        runoff = self._river.pool_mm_h(t_s)
        strength = [(event, pulse(t_s, event.window)) for event in self.pollution]

        temperature = s.mean_temperature_c + s.temperature_swing_c * warmth
        oxygen = oxygen_saturation_mg_l(temperature) * (s.oxygen_fraction + s.oxygen_swing * light)
        ph = s.ph_mean + s.ph_swing * light
        turbidity = s.turbidity_ntu + s.runoff_turbidity_ntu_per_mm_h * runoff
        conductivity = s.conductivity_us_cm * max(1.0 - s.runoff_dilution_per_mm_h * runoff, 0.3)
        ammonia = s.ammonia_mg_l
        permanganate = s.permanganate_mg_l + s.runoff_permanganate_per_mm_h * runoff
        phosphorus = s.phosphorus_mg_l + s.runoff_phosphorus_per_mm_h * runoff
        for event, g in strength:
            ammonia += event.ammonia_mg_l * g
            permanganate += event.permanganate_mg_l * g
            phosphorus += event.phosphorus_mg_l * g
            turbidity += event.turbidity_ntu * g
            conductivity += event.conductivity_us_cm * g
            oxygen *= 1.0 - event.oxygen_drop_fraction * g
            ph -= event.ph_drop * g

        def noisy(value: float, sigma: float, digits: int) -> float:
            return round(max(value + rng.gauss(0.0, sigma), 0.0), digits)

        return WaterQualitySample(
            t_s=t_s,
            ph=noisy(ph, 0.02, 2),
            dissolved_oxygen_mg_l=noisy(oxygen, 0.05, 2),
            turbidity_ntu=noisy(turbidity, 0.03 * turbidity, 1),
            conductivity_us_cm=noisy(conductivity, 2.0, 0),
            temperature_c=noisy(temperature, 0.05, 2),
            ammonia_nitrogen_mg_l=noisy(ammonia, 0.02, 3),
            permanganate_index_mg_l=noisy(permanganate, 0.1, 2),
            total_phosphorus_mg_l=noisy(phosphorus, 0.005, 3),
        )
