"""Which rules a reading meets: rules indexed by (device kind or profile, metric).

A reading of ``power_w`` from a lamp controller looks up ``("kind", "lamp_controller", "power_w")``,
``("profile", "sw-lamp-controller", "power_w")`` and ``("any", "", "power_w")``, then keeps the
rules whose selector matches the device. The answer is cached per device and metric until the
rules or that device change, so the hot path is two dictionary look-ups.
"""

from __future__ import annotations

from collections.abc import Mapping

from rules.quality_rule import QualityRuntime
from rules.rain_rule import RainRiseRuntime
from rules.runtime import (
    AbsenceRuntime,
    ConditionRuntime,
    GroupRuntime,
    MetricRuntime,
    Runtime,
)
from rules.spec import Selector
from rules.watched import WatchedDevice


class RuleIndex:
    def __init__(self, runtimes: Mapping[str, Runtime] | None = None) -> None:
        # Per device, as little as possible (100,000 devices, most of them never sending a reading
        # the rules read): its absence rules, one shared tuple for all devices with the same ones, and
        # the rules per metric only once a reading has asked (an object, a tuple and an empty dict per
        # device were about 19 MB).
        self._absence: dict[str, tuple[AbsenceRuntime, ...]] = {}
        self._shared_absence: dict[tuple[AbsenceRuntime, ...], tuple[AbsenceRuntime, ...]] = {}
        self._by_metric: dict[str, dict[str, tuple[MetricRuntime, ...]]] = {}
        self._shared_rules: dict[tuple[MetricRuntime, ...], tuple[MetricRuntime, ...]] = {}
        self.rebuild(runtimes or {})

    def rebuild(self, runtimes: Mapping[str, Runtime]) -> None:
        index: dict[tuple[str, str, str], list[MetricRuntime]] = {}
        latest: set[str] = set()
        sources: dict[str, list[GroupRuntime]] = {}
        for rt in runtimes.values():
            if isinstance(rt, GroupRuntime):
                sources.setdefault(rt.spec.source, []).append(rt)
            if isinstance(rt, AbsenceRuntime | GroupRuntime):
                continue
            if isinstance(rt, ConditionRuntime):
                latest |= rt.value_names
            # A rain_rise rule reads two sets of devices: its level gauges and its rain gauges.
            selectors = rt.selectors if isinstance(rt, RainRiseRuntime) else (rt.spec.applies_to,)
            keys = list(dict.fromkeys(key for selector in selectors for key in _keys(selector)))
            for metric in rt.metrics:
                for by, value in keys:
                    index.setdefault((by, value, metric), []).append(rt)
        self._index = {key: tuple(rts) for key, rts in index.items()}
        self.absence = tuple(rt for rt in runtimes.values() if isinstance(rt, AbsenceRuntime))
        self.group_sources = {name: tuple(rts) for name, rts in sources.items()}
        self.latest_metrics = frozenset(latest)
        """Metrics whose latest value per device conditions need."""
        self._absence.clear()
        self._shared_absence.clear()
        self._by_metric.clear()
        self._shared_rules.clear()

    def invalidate(self, device_id: str) -> None:
        """Forget the cached routes of a device that changed."""
        self._absence.pop(device_id, None)
        self._by_metric.pop(device_id, None)

    def absence_for(self, device: WatchedDevice) -> tuple[AbsenceRuntime, ...]:
        absence = self._absence.get(device.id)
        if absence is None:
            found = tuple(rt for rt in self.absence if rt.spec.applies_to.matches(device))
            absence = self._absence[device.id] = self._shared_absence.setdefault(found, found)
        return absence

    def rules_for(self, device: WatchedDevice, metric: str) -> tuple[MetricRuntime, ...]:
        by_metric = self._by_metric.get(device.id)
        if by_metric is None:
            by_metric = self._by_metric[device.id] = {}
        found = by_metric.get(metric)
        if found is None:
            index = self._index
            candidates = (index.get(("kind", device.kind, metric), ())
                          + index.get(("profile", device.profile, metric), ())
                          + index.get(("any", "", metric), ()))
            found = tuple(sorted((rt for rt in dict.fromkeys(candidates) if _reads(rt, device)),
                                 key=lambda rt: not isinstance(rt, QualityRuntime)))  # the quality screen first
            found = by_metric[metric] = self._shared_rules.setdefault(found, found)
        return found


def _keys(selector: Selector) -> list[tuple[str, str]]:
    if selector.kinds:
        return [("kind", k) for k in selector.kinds]
    return [("profile", p) for p in selector.profiles] if selector.profiles else [("any", "")]


def _reads(rt: MetricRuntime, device: WatchedDevice) -> bool:
    return rt.matches(device) if isinstance(rt, RainRiseRuntime) else rt.spec.applies_to.matches(device)
