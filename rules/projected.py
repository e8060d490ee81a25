"""The ``projected`` rule: a level reached within ``within`` at the current rise raises its severity now.

Per device, the readings of the last ``window`` feed a robust fit (:mod:`rules.projection`); each
level not reached yet gets a projected time, and the rule stands at the highest level projected
within ``within``. A level already reached is the ``threshold`` rule's business: the projection
lets go of it. No verdict until ``min_samples`` samples span ``min_span``.

The message says what a duty officer needs: "water_level_mm 642 rising 21.3 per min: red level 800
in about 7.4 min (5.9–9.8 min)".
"""

from __future__ import annotations

import math

from rules.evidence import Evidence
from rules.levels import Levels, effective_levels
from rules.projection import FitWindow, Projection
from rules.severity import SeverityScale
from rules.spec import ProjectedRule
from rules.watched import WatchedDevice
from streetwatch.figures import show
from streetwatch.readings import Reading

GATE_FACTOR = 3.0
"""The cheap rough slope must put a level within this many times ``within`` before the full fit runs."""


def _minutes(seconds: float) -> str:
    return "?" if not math.isfinite(seconds) else f"{seconds / 60:.1f}"


def describe(metric: str, p: Projection, level_name: str) -> str:
    """One line for the alert: where the series is, how fast it rises, when it reaches the level."""
    return (f"{metric} {show(round(p.level_now, 1))} rising {show(round(p.slope_per_s * 60, 2))} per min: "
            f"{level_name} level {show(p.level)} in about {_minutes(p.eta_s)} min "
            f"({_minutes(p.earliest_s)}–{_minutes(p.latest_s)} min)")


class ProjectedRuntime:
    def __init__(self, spec: ProjectedRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.scale = scale
        self.metrics = frozenset({spec.metric})
        self._levels: dict[str, Levels] = {}
        self._windows: dict[str, FitWindow] = {}

    def device_changed(self, device_id: str) -> None:
        self._levels.pop(device_id, None)

    def forget(self, device_id: str) -> None:
        self._levels.pop(device_id, None)
        self._windows.pop(device_id, None)

    def levels_for(self, device: WatchedDevice) -> Levels:
        levels = self._levels.get(device.id)
        if levels is None:
            own = device.thresholds.get(self.spec.metric) if self.spec.device_thresholds else None
            levels = self._levels[device.id] = effective_levels(self.scale, "above", self.spec.levels, own)
        return levels

    def evaluate(self, device: WatchedDevice, reading: Reading, previous: int) -> Evidence | None:
        spec = self.spec
        window = self._windows.get(device.id)
        if window is None:
            window = self._windows[device.id] = FitWindow(spec.window_s)
        window.add(reading.ts.timestamp(), reading.value)
        if len(window) < spec.min_samples or window.span_s() < spec.min_span_s:
            return None
        levels = self.levels_for(device)
        if not levels.thresholds:
            return None
        if not previous and not self._worth_fitting(window, levels):
            return Evidence(0, spec.metric, reading.value)
        fit = window.fit()
        if fit is None:
            return None
        rank, shown = 0, None
        for level_rank, level in levels.thresholds:
            projection = fit.projection(level)
            if projection is None:
                continue  # reached already
            if shown is None:
                shown = (level_rank, projection)  # the next level, for a message when none is near
            if projection.eta_s <= spec.within_s:
                rank, shown = level_rank, (level_rank, projection)
        if shown is None:
            return Evidence(0, spec.metric, reading.value)
        shown_rank, projection = shown

        def message() -> str:
            text = describe(spec.metric, projection, self.scale.name(shown_rank))
            return text if rank else f"no level projected within {_minutes(spec.within_s)} min; {text}"

        context = {"level_now": projection.level_now, "rise_per_min": projection.slope_per_s * 60,
                   "eta_s": projection.eta_s, "earliest_s": projection.earliest_s, "latest_s": projection.latest_s}
        return Evidence(rank, spec.metric, projection.level_now, projection.level, message, context)

    def _worth_fitting(self, window: FitWindow, levels: Levels) -> bool:
        """Whether the rough rise could bring a level near: a calm or falling series skips the fit."""
        rough = window.rough_slope()
        if rough is None or rough <= 0:
            return False
        newest = window.values[-1]
        gaps = [level - newest for _, level in levels.thresholds if level > newest]
        return bool(gaps) and min(gaps) / rough <= GATE_FACTOR * self.spec.within_s
