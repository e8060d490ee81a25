"""What a rule file may say, as pydantic models (validated at the edge, frozen inside).

Every rule has a ``name``, a ``kind`` and a selector ``applies_to``; ``for`` and ``clear_for`` hold
a change back until it has lasted. The kinds:

- ``threshold``: escalating levels on one metric, with a deadband (hysteresis) and per-device
  overrides from the registry;
- ``rate_of_change``: a metric rising (or falling) faster than ``rise`` per ``window``;
- ``projected``: a level projected to be reached within ``within`` at the robustly fitted rise;
- ``quality``: a device fault when a gauge's readings are not trustworthy, and those readings kept
  from the other rules;
- ``rain_rise``: rain of at least ``intensity`` mm/h in a gauge's district while the gauge rises at
  least ``rise`` per ``window``;
- ``absence``: no data for ``after``, or an explicit offline status;
- ``condition``: a safe expression over several metrics of one device, with window functions;
- ``group``: at least N devices of one site or group at a severity of another rule.

docs/rules.md is the reference with examples.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.durations import DurationS
from rules.watched import WatchedDevice

RULE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CLEARED = "cleared"
"""An action's ``at`` value that fires when the alert clears."""

WindowFunction = Literal["transitions", "change", "min", "max", "mean", "count"]
TargetKind = Literal["device", "group", "site", "tag"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Selector(_Spec):
    """Which devices a rule concerns; every non-empty list must match. Sites, groups and devices take
    shell patterns (``CG-*``); kinds and profiles are exact (the engine indexes by them)."""

    kinds: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()

    def matches(self, device: WatchedDevice) -> bool:
        if self.kinds and device.kind not in self.kinds:
            return False
        if self.profiles and device.profile not in self.profiles:
            return False
        if self.sites and not any(fnmatch.fnmatchcase(device.site, p) for p in self.sites):
            return False
        if self.groups and not any(fnmatch.fnmatchcase(g, p) for g in device.groups for p in self.groups):
            return False
        return not self.devices or any(fnmatch.fnmatchcase(device.id, p) for p in self.devices)


class ActionSpec(_Spec):
    """A command a rule issues when its alert reaches severity ``at`` (or ``at: cleared``).

    ``target: group`` with ``groups_matching: "hazard-*"`` picks the alerting device's own groups
    that match; ``value`` names a target literally (a device id, group, site or ``key=value`` tag).
    """

    at: str
    action: str = Field(min_length=1, max_length=64)
    target: TargetKind = "device"
    value: str | None = None
    groups_matching: str | None = None
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)


class _Rule(_Spec):
    name: str
    description: str = ""
    enabled: bool = True
    applies_to: Selector = Field(default_factory=Selector)
    for_s: DurationS = Field(0.0, alias="for", description="a higher severity must last this long to be raised")
    clear_for_s: DurationS = Field(0.0, alias="clear_for", description="a lower state must last this long")
    actions: tuple[ActionSpec, ...] = ()

    def severities_named(self) -> list[tuple[str, str]]:
        """(field, severity name) pairs this rule uses, for validation."""
        return [(f"actions[{i}].at", a.at) for i, a in enumerate(self.actions) if a.at != CLEARED]


class ThresholdRule(_Rule):
    kind: Literal["threshold"]
    metric: str
    direction: Literal["above", "below"] = "above"
    levels: dict[str, float] = Field(default_factory=dict, description="severity name → threshold")
    deadband: float = Field(0.0, ge=0, description="a level clears only beyond threshold ∓ deadband")
    device_thresholds: bool = Field(True, description="use the device's registry thresholds[metric] overrides")

    def severities_named(self) -> list[tuple[str, str]]:
        return super().severities_named() + [(f"levels.{name}", name) for name in self.levels]


class RateOfChangeRule(_Rule):
    kind: Literal["rate_of_change"]
    metric: str
    window_s: DurationS = Field(alias="window")
    rise: float | None = Field(None, gt=0, description="raise when the metric rises more than this per window")
    fall: float | None = Field(None, gt=0, description="…or falls more than this per window")
    severity: str
    deadband: float = Field(0.0, ge=0)
    min_samples: int = Field(3, ge=2)
    min_coverage: float = Field(0.5, gt=0, le=1, description="fraction of the window the samples must span")

    def severities_named(self) -> list[tuple[str, str]]:
        return [*super().severities_named(), ("severity", self.severity)]


class ProjectedRule(_Rule):
    kind: Literal["projected"]
    metric: str
    levels: dict[str, float] = Field(default_factory=dict, description="severity name → level (rising)")
    device_thresholds: bool = Field(True, description="use the device's registry thresholds[metric] overrides")
    within_s: DurationS = Field(alias="within", description="raise when a level is projected within this")
    window_s: DurationS = Field(600.0, alias="window", description="fit the rise over this much recent data")
    min_samples: int = Field(5, ge=3)
    min_span_s: DurationS = Field(180.0, alias="min_span", description="the samples must span this long")

    def severities_named(self) -> list[tuple[str, str]]:
        return super().severities_named() + [(f"levels.{name}", name) for name in self.levels]


QualityFlag = Literal["spike", "gradient", "stuck", "below_floor", "low_battery", "low_signal"]


class QualityRule(_Rule):
    kind: Literal["quality"]
    metric: str
    severity: str = Field(description="the device fault alert's severity")
    spike: float | None = Field(None, gt=0, description="from the median of the last 5 readings")
    max_rise_per_min: float | None = Field(None, gt=0, description="the fastest physical change, either way")
    stuck_for_s: DurationS | None = Field(None, alias="stuck_for", description="the same value this long: stuck")
    stuck_samples: int = Field(10, ge=2)
    floor: float | None = Field(None, description="below this: a fault (the device's thresholds[metric].floor wins)")
    ceiling: float | None = Field(None, description="the sensor's top of range: a flat line there is not stuck")
    battery_metric: str = "battery_v"
    battery_min: float | None = None
    signal_metric: str = "signal_quality_pct"
    signal_min: float | None = None
    hold_s: DurationS = Field(1800.0, alias="hold", description="the fault stands this long after the last flag")
    keep: tuple[QualityFlag, ...] = Field((), description="flags whose readings still reach the other rules")

    def severities_named(self) -> list[tuple[str, str]]:
        return [*super().severities_named(), ("severity", self.severity)]


class RainRiseRule(_Rule):
    """Rain and rising water together: a gauge (``applies_to``) rising at least ``rise`` per ``window``
    while a rain gauge (``rain_from``) of the same district measures at least ``intensity`` mm/h."""

    kind: Literal["rain_rise"]
    metric: str = Field("water_level_mm", description="the level whose rise counts")
    rise: float = Field(gt=0, description="the rise per window that counts (with the rain)")
    window_s: DurationS = Field(600.0, alias="window", description="the rise is measured over this")
    rain_from: Selector = Field(default_factory=lambda: Selector(kinds=("rain_gauge",)))
    rain_metric: str = "rain_intensity_mm_h"
    intensity: float = Field(gt=0, description="mm/h: the rain that counts, mean over intensity_window")
    intensity_window_s: DurationS = Field(600.0, alias="intensity_window")
    district_by: str = Field("area", description="area, site, group, or tag:<key>")
    severity: str
    min_samples: int = Field(3, ge=2)
    min_coverage: float = Field(0.5, gt=0, le=1, description="fraction of the window the samples must span")

    def severities_named(self) -> list[tuple[str, str]]:
        return [*super().severities_named(), ("severity", self.severity)]


class AbsenceRule(_Rule):
    kind: Literal["absence"]
    after_s: DurationS = Field(alias="after", description="no data for this long: the device is stale")
    severity: str
    metrics: tuple[str, ...] = Field((), description="only these metrics count as data; empty: any")
    offline_status: bool = Field(True, description="an explicit offline status (last will, poller) counts at once")

    def severities_named(self) -> list[tuple[str, str]]:
        return [*super().severities_named(), ("severity", self.severity)]


class WindowSpec(_Spec):
    """A value over a sliding window of one metric, usable by name in a condition."""

    metric: str
    function: WindowFunction
    window_s: DurationS = Field(alias="window")


class ConditionRule(_Rule):
    kind: Literal["condition"]
    when: str = Field(min_length=1, description="safe expression over the device's latest metrics")
    severity: str
    windows: dict[str, WindowSpec] = Field(default_factory=dict)

    def severities_named(self) -> list[tuple[str, str]]:
        return [*super().severities_named(), ("severity", self.severity)]


class GroupRule(_Rule):
    kind: Literal["group"]
    source: str = Field(description="the rule whose alerts are counted")
    group_by: str = Field("site", description="site, group, or tag:<key>")
    groups_matching: str | None = Field(None, description="only group keys matching this pattern")
    min_severity: str
    at_least: int = Field(ge=1)
    severity: str

    def severities_named(self) -> list[tuple[str, str]]:
        return [*super().severities_named(), ("min_severity", self.min_severity), ("severity", self.severity)]


RuleSpec = Annotated[
    ThresholdRule | RateOfChangeRule | ProjectedRule | QualityRule | RainRiseRule | AbsenceRule | ConditionRule
    | GroupRule,
    Field(discriminator="kind"),
]


class RuleFile(_Spec):
    """The top of a rule file: an optional severity scale and a list of rules."""

    severities: tuple[str, ...] | None = None
    rules: tuple[RuleSpec, ...] = ()
