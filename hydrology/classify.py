"""A section's water class for one day, by GB 3838-2002 (single-factor assessment).

Each parameter the standard lists (for the section's water body) and the section measured gets the
best class whose limit its day's mean meets; the section takes the worst of them. A value exactly at a
limit meets it ("≤" for most items, "≥" for dissolved oxygen). Where classes share a limit (COD is 15
for I and II) the better class is given, as the national assessment method says.

The parameters at the section's class *decide* it. Those over the target class's limit exceed it by
``(value − limit) / limit`` (超标倍数); as in the national assessment method no multiple is given for
pH and dissolved oxygen.

>>> result = classify({"ammonia_nitrogen_mg_l": 1.2, "dissolved_oxygen_mg_l": 6.5, "ph": 7.4},
...                   water_body="river", target=WaterClass.III)
>>> result.water_class.label, [p.metric for p in result.deciding]
('IV', ['ammonia_nitrogen_mg_l'])
>>> round(result.deciding[0].exceedance, 2)
0.2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hydrology.standard import Parameter, Standard, WaterBody, WaterClass, load_standard
from streetwatch.oxygen import oxygen_saturation_mg_l

TOLERANCE = 1e-9
"""Relative slack at a limit: a day's mean of 0.1 and 0.2 is 0.15000000000000002 in floating point,
and must not fall a class for that."""
TEMPERATURE_METRIC = "temperature_c"


@dataclass(frozen=True, slots=True)
class ParameterResult:
    """One parameter's day mean, its class, and how far it is over the target class (None: within,
    no target, or not computed for this item)."""

    metric: str
    name: str
    unit: str
    value: float
    water_class: WaterClass
    target_limit: float | None = None
    exceedance: float | None = None

    @property
    def exceeds_target(self) -> bool:
        return self.exceedance is not None


@dataclass(frozen=True, slots=True)
class Classification:
    water_class: WaterClass
    target: WaterClass | None
    parameters: tuple[ParameterResult, ...]
    deciding: tuple[ParameterResult, ...]
    not_assessed: tuple[str, ...] = ()
    """Metrics given that the standard does not assess for this water body (total nitrogen in a river)."""

    @property
    def meets_target(self) -> bool | None:
        return None if self.target is None else self.water_class <= self.target

    @property
    def over_target(self) -> tuple[ParameterResult, ...]:
        """Every parameter worse than the target class, worst first."""
        if self.target is None:
            return ()
        worse = [p for p in self.parameters if p.water_class > self.target]
        return tuple(sorted(worse, key=lambda p: (-p.water_class, -(p.exceedance or 0.0), p.metric)))


def classify(means: Mapping[str, float], *, water_body: WaterBody, target: WaterClass | None = None,
             standard: Standard | None = None) -> Classification | None:
    """The class of a day with these parameter means (metric → value); None when none is assessed.

    ``temperature_c``, when given, lets dissolved oxygen meet class I by saturation (≥ 90 %).
    """
    standard = standard or load_standard()
    temperature = means.get(TEMPERATURE_METRIC)
    results: list[ParameterResult] = []
    not_assessed: list[str] = []
    for parameter in standard.parameters:
        if parameter.metric not in means:
            continue
        if not parameter.applies_to(water_body):
            not_assessed.append(parameter.metric)
            continue
        value = means[parameter.metric]
        results.append(_judge(parameter, value, water_body, target, temperature))
    if not results:
        return None
    worst = max(r.water_class for r in results)
    deciding = () if worst is WaterClass.I else tuple(r for r in results if r.water_class == worst)
    return Classification(worst, target, tuple(results), deciding, tuple(not_assessed))


def class_of(parameter: Parameter, value: float, water_body: WaterBody,
             temperature_c: float | None = None) -> WaterClass:
    """The best class whose limit ``value`` meets."""
    if parameter.kind == "range":
        low, high = parameter.low, parameter.high
        inside = low * (1 - TOLERANCE) <= value <= high * (1 + TOLERANCE)
        return WaterClass.I if inside else WaterClass.WORSE_THAN_V
    limits = parameter.limits_for(water_body)
    if parameter.kind == "min":
        if parameter.saturation_class_i is not None and temperature_c is not None \
                and value >= parameter.saturation_class_i * oxygen_saturation_mg_l(temperature_c) * (1 - TOLERANCE):
            return WaterClass.I
        for number, limit in enumerate(limits, 1):
            if value >= limit * (1 - TOLERANCE):
                return WaterClass(number)
        return WaterClass.WORSE_THAN_V
    for number, limit in enumerate(limits, 1):
        if value <= limit * (1 + TOLERANCE):
            return WaterClass(number)
    return WaterClass.WORSE_THAN_V


def _judge(parameter: Parameter, value: float, water_body: WaterBody, target: WaterClass | None,
           temperature_c: float | None) -> ParameterResult:
    water_class = class_of(parameter, value, water_body, temperature_c)
    target_limit = exceedance = None
    if target is not None and parameter.kind != "range":
        target_limit = parameter.limits_for(water_body)[target - 1]
        if parameter.exceedance and water_class > target and target_limit > 0:
            exceedance = (value - target_limit) / target_limit
    return ParameterResult(parameter.metric, parameter.name, parameter.unit, value, water_class,
                           target_limit, exceedance)
