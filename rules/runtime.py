"""What each kind of rule makes of a reading: the raw severity rank, and the evidence behind it.

A runtime holds the per-device state its kind needs (deadband memory comes from the caller,
windows live here). The engine routes readings, applies ``for``/``clear_for`` and raises alerts.
"""

from __future__ import annotations

import fnmatch
import heapq
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from rules.durations import format_duration_s
from rules.evidence import Evidence
from rules.flag_log import FlagRecorder
from rules.levels import Levels, effective_levels
from rules.projected import ProjectedRuntime
from rules.quality_rule import QualityRuntime
from rules.rain_rule import RainRiseRuntime
from rules.severity import SeverityScale
from rules.spec import (
    AbsenceRule,
    ConditionRule,
    GroupRule,
    ProjectedRule,
    QualityRule,
    RainRiseRule,
    RateOfChangeRule,
    RuleSpec,
    ThresholdRule,
)
from rules.watched import WatchedDevice
from rules.windows import SampleWindow, TransitionCounter
from streetwatch.expressions import Expression, ExpressionBudgetError, ExpressionError
from streetwatch.figures import show
from streetwatch.readings import Reading
from streetwatch.sun import SUNRISE_ELEVATION_DEG, sun_elevation_deg

log = logging.getLogger(__name__)


class ThresholdRuntime:
    def __init__(self, spec: ThresholdRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.scale = scale
        self.metrics = frozenset({spec.metric})
        self._levels: dict[str, Levels] = {}

    def device_changed(self, device_id: str) -> None:
        self._levels.pop(device_id, None)

    def levels_for(self, device: WatchedDevice) -> Levels:
        levels = self._levels.get(device.id)
        if levels is None:
            own = device.thresholds.get(self.spec.metric) if self.spec.device_thresholds else None
            levels = effective_levels(self.scale, self.spec.direction, self.spec.levels, own, self.spec.deadband)
            self._levels[device.id] = levels
        return levels

    def forget(self, device_id: str) -> None:
        self._levels.pop(device_id, None)

    def evaluate(self, device: WatchedDevice, reading: Reading, previous: int) -> Evidence | None:
        levels = self.levels_for(device)
        if not levels.thresholds:
            return None
        value = reading.value
        rank = levels.rank_of(value, previous)
        shown = rank or previous or levels.thresholds[0][0]
        threshold = levels.threshold_of(shown)

        def message() -> str:
            word = "above" if self.spec.direction == "above" else "below"
            if rank:
                return f"{self.spec.metric} {show(value)} {word} the {self.scale.name(rank)} level {show(threshold)}"
            return f"{self.spec.metric} {show(value)} back from the {self.scale.name(shown)} level {show(threshold)}"

        return Evidence(rank, self.spec.metric, value, threshold, message)


class RateRuntime:
    def __init__(self, spec: RateOfChangeRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.rank = scale.rank(spec.severity)
        self.metrics = frozenset({spec.metric})
        self._windows: dict[str, SampleWindow] = {}

    def forget(self, device_id: str) -> None:
        self._windows.pop(device_id, None)

    def evaluate(self, device: WatchedDevice, reading: Reading, previous: int) -> Evidence | None:
        spec = self.spec
        window = self._windows.get(device.id)
        if window is None:
            window = self._windows[device.id] = SampleWindow(spec.window_s)
        window.add(reading.ts.timestamp(), reading.value)
        change = window.change(min_samples=spec.min_samples, min_coverage=spec.min_coverage)
        if change is None:
            return None
        limit = spec.rise if spec.rise is not None else spec.fall
        assert limit is not None  # the loader requires exactly one
        signed = change if spec.rise is not None else -change
        active = signed > limit or (previous > 0 and signed > limit - spec.deadband)
        now_value = reading.value

        def message() -> str:
            word = "rose" if change >= 0 else "fell"
            return (f"{spec.metric} {word} {show(abs(change))} per {format_duration_s(spec.window_s)}"
                    f" (limit {show(limit)}); now {show(now_value)}")

        return Evidence(self.rank if active else 0, spec.metric, change, limit, message, {spec.metric: now_value})


class ConditionRuntime:
    """``when`` over the device's latest metrics, its windows and the built-ins (sun position)."""

    def __init__(self, spec: ConditionRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.rank = scale.rank(spec.severity)
        self.expression = Expression.parse(spec.when)
        window_metrics = {w.metric for w in spec.windows.values()}
        self.value_names = frozenset(self.expression.names - spec.windows.keys() - {"sun_elevation_deg", "sun_up"})
        self.metrics = frozenset(self.value_names | window_metrics)
        self._windows: dict[tuple[str, str], SampleWindow | TransitionCounter] = {}
        self.errors = 0

    def forget(self, device_id: str) -> None:
        for key in [k for k in self._windows if k[0] == device_id]:
            del self._windows[key]

    def _window(self, device_id: str, name: str) -> SampleWindow | TransitionCounter:
        key = (device_id, name)
        window = self._windows.get(key)
        if window is None:
            spec = self.spec.windows[name]
            window = TransitionCounter(spec.window_s) if spec.function == "transitions" else SampleWindow(spec.window_s)
            self._windows[key] = window
        return window

    def evaluate(self, device: WatchedDevice, reading: Reading, latest: Mapping[str, float],
                 at: datetime) -> Evidence | None:
        t = reading.ts.timestamp()
        for name, spec in self.spec.windows.items():
            if spec.metric == reading.metric:
                self._window(device.id, name).add(t, reading.value)
        values: dict[str, float | bool] = {}
        for name in self.expression.names:
            value = self._value_of(name, device, latest, at)
            if value is None:
                return None  # not every metric has reported yet
            values[name] = value
        try:
            result = bool(self.expression.evaluate(values))
        except ExpressionBudgetError:
            raise  # the engine takes the rule out: it would cost as much on every reading
        except (ExpressionError, ArithmeticError, TypeError) as exc:
            self.errors += 1
            if self.errors == 1:
                log.warning("rule %s: cannot evaluate %r for %s: %s", self.spec.name, self.spec.when, device.id, exc)
            return None
        def message() -> str:
            shown = ", ".join(f"{k}={_shown(v)}" for k, v in sorted(values.items()))
            return f"{self.spec.when} ({shown})" if result else f"no longer {self.spec.when} ({shown})"

        return Evidence(self.rank if result else 0, reading.metric, reading.value, None, message, values)

    def _value_of(self, name: str, device: WatchedDevice, latest: Mapping[str, float],
                  at: datetime) -> float | bool | None:
        if name in self.spec.windows:
            spec = self.spec.windows[name]
            window = self._windows.get((device.id, name))
            if window is None:
                return 0 if spec.function in ("transitions", "count") else None
            if isinstance(window, TransitionCounter):
                return window.count()
            return _window_value(window, spec.function)
        if name == "sun_elevation_deg":
            return sun_elevation_deg(device.location.latitude, device.location.longitude, at)
        if name == "sun_up":
            return sun_elevation_deg(device.location.latitude, device.location.longitude, at) > SUNRISE_ELEVATION_DEG
        return latest.get(name)


def _window_value(window: SampleWindow, function: str) -> float | None:
    if function == "change":
        return window.change()
    if function == "min":
        return window.minimum()
    if function == "max":
        return window.maximum()
    if function == "mean":
        return window.mean()
    return float(len(window))


class AbsenceRuntime:
    """No data for ``after``: the engine keeps the last-seen times; this holds the settings."""

    def __init__(self, spec: AbsenceRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.rank = scale.rank(spec.severity)
        self.metrics: frozenset[str] = frozenset()
        self.last_seen: dict[str, float] = {}
        self.tracked: set[str] = set()
        # A heap of the distinct deadlines (last seen + after), and the devices due at each: the devices
        # followed together (all of them when the gateway starts) share one deadline, where a heap entry
        # per device cost a tuple and a float each (8.8 MB for 100,000 devices; issue #21).
        self.deadlines: list[float] = []
        self._due: dict[float, list[str]] = {}
        self._draining: float | None = None  # the deadline whose devices are being handed out

    def counts(self, metric: str) -> bool:
        return not self.spec.metrics or metric in self.spec.metrics

    def seen(self, device_id: str, t: float) -> None:
        """Data (or an online status) from the device at ``t``."""
        self.last_seen[device_id] = t
        if device_id not in self.tracked:
            self.tracked.add(device_id)
            self._follow(device_id, t + self.spec.after_s)

    def _follow(self, device_id: str, deadline: float) -> None:
        due = self._due.get(deadline)
        if due is None:
            due = self._due[deadline] = []
            heapq.heappush(self.deadlines, deadline)
        due.append(device_id)

    def expired(self, t: float, watched: Callable[[str], bool]) -> Iterator[tuple[str, float]]:
        """(device, seconds silent) for each followed device silent for ``after`` at ``t``; such a
        device is followed again when it is next seen. ``watched`` says whether a device still counts."""
        after = self.spec.after_s
        while self.deadlines and self.deadlines[0] <= t:
            deadline = self.deadlines[0]
            due = self._due[deadline]
            if self._draining != deadline:
                due.sort(reverse=True)  # handed out by device id, as a heap of (deadline, device id) did
                self._draining = deadline
            device_id = due.pop()  # one at a time: the state is whole at every yield
            if not due:
                heapq.heappop(self.deadlines)
                del self._due[deadline]
                self._draining = None
            last = self.last_seen.get(device_id)
            if last is None or not watched(device_id):
                self.tracked.discard(device_id)
            elif last + after > t:
                self._follow(device_id, last + after)
            else:
                self.tracked.discard(device_id)
                yield device_id, t - last

    def forget(self, device_id: str) -> None:
        self.last_seen.pop(device_id, None)
        self.tracked.discard(device_id)


class GroupRuntime:
    """How many devices of each site/group/tag stand at ``min_severity`` or above in ``source``."""

    def __init__(self, spec: GroupRule, scale: SeverityScale) -> None:
        self.spec = spec
        self.rank = scale.rank(spec.severity)
        self.min_rank = scale.rank(spec.min_severity)
        self.metrics: frozenset[str] = frozenset()
        self.members: dict[str, dict[str, int]] = {}

    def forget(self, device_id: str) -> None:
        for ranks in self.members.values():
            ranks.pop(device_id, None)

    def keys_of(self, device: WatchedDevice) -> list[str]:
        by = self.spec.group_by
        if by == "site":
            keys = [device.site] if device.site else []
        elif by == "group":
            keys = list(device.groups)
        else:
            tag = by.removeprefix("tag:")
            keys = [f"{tag}={device.tags[tag]}"] if tag in device.tags else []
        pattern = self.spec.groups_matching
        return keys if pattern is None else [k for k in keys if fnmatch.fnmatchcase(k, pattern)]

    def subject(self, key: str) -> str:
        return f"{self.spec.group_by.split(':')[0]}:{key}"

    def set_rank(self, key: str, device_id: str, rank: int) -> Evidence:
        ranks = self.members.setdefault(key, {})
        if rank >= self.min_rank:
            ranks[device_id] = rank
        else:
            ranks.pop(device_id, None)
        return self.evidence(key)

    def evidence(self, key: str) -> Evidence:
        at = sorted(self.members.get(key, {}))
        count = len(at)
        active = count >= self.spec.at_least
        message = (f"{count} device(s) of {self.subject(key)} at {self.spec.min_severity} or above in "
                   f"{self.spec.source} (needs {self.spec.at_least}): {', '.join(at) or 'none'}")
        return Evidence(self.rank if active else 0, None, float(count), float(self.spec.at_least), message)


MetricRuntime = QualityRuntime | ThresholdRuntime | RateRuntime | ProjectedRuntime | RainRiseRuntime | ConditionRuntime
"""Rules evaluated on readings of their metrics."""
Runtime = MetricRuntime | AbsenceRuntime | GroupRuntime


def make_runtime(spec: RuleSpec, scale: SeverityScale, flags: FlagRecorder | None = None) -> Runtime:
    if isinstance(spec, ThresholdRule):
        return ThresholdRuntime(spec, scale)
    if isinstance(spec, RateOfChangeRule):
        return RateRuntime(spec, scale)
    if isinstance(spec, ProjectedRule):
        return ProjectedRuntime(spec, scale)
    if isinstance(spec, QualityRule):
        return QualityRuntime(spec, scale, flags)
    if isinstance(spec, RainRiseRule):
        return RainRiseRuntime(spec, scale)
    if isinstance(spec, ConditionRule):
        return ConditionRuntime(spec, scale)
    if isinstance(spec, AbsenceRule):
        return AbsenceRuntime(spec, scale)
    return GroupRuntime(spec, scale)


def _shown(value: float | bool) -> str:
    """A condition's input as the message shows it: ``true``/``false`` as written in ``when``, numbers tidy."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return show(value)
