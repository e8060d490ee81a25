"""Rules that read metrics no device of theirs reports: warnings for ``rules validate``.

A rule limited to device kinds (or profiles) can only ever see the metrics those profiles define.
A metric name that none of them defines is almost always a typo (``power_watts`` for ``power_w``),
and the rule would silently never fire: a condition waits for every metric it names. Rules for
all devices are not checked (any profile may report anything).

>>> warnings = unknown_metric_warnings(ruleset, ProfileLibrary.shipped())   # doctest: +SKIP
['rules/lamps.toml:3: lamp-failure: when names power_watts, which no lamp_controller profile defines …']
"""

from __future__ import annotations

from collections.abc import Iterator

from device_registry.library import ProfileLibrary
from device_registry.profile import Profile
from rules.loader import RuleSet
from rules.spec import (
    AbsenceRule,
    ConditionRule,
    ProjectedRule,
    QualityRule,
    RateOfChangeRule,
    RuleSpec,
    ThresholdRule,
)
from streetwatch.expressions import Expression

BUILT_IN_NAMES = frozenset({"sun_elevation_deg", "sun_up"})
"""Names a condition may use that come from the engine, not from the device."""


def metrics_read(rule: RuleSpec) -> Iterator[tuple[str, str]]:
    """(field, metric) for each device metric ``rule`` reads."""
    if isinstance(rule, ThresholdRule | RateOfChangeRule | ProjectedRule):
        yield "metric", rule.metric
    elif isinstance(rule, QualityRule):
        yield "metric", rule.metric
        if rule.battery_min is not None:
            yield "battery_metric", rule.battery_metric
        if rule.signal_min is not None:
            yield "signal_metric", rule.signal_metric
    elif isinstance(rule, AbsenceRule):
        for metric in rule.metrics:
            yield "metrics", metric
    elif isinstance(rule, ConditionRule):
        for name in sorted(Expression.parse(rule.when).names - rule.windows.keys() - BUILT_IN_NAMES):
            yield "when", name
        for window_name, window in rule.windows.items():
            yield f"windows.{window_name}.metric", window.metric


def _profiles_for(rule: RuleSpec, library: ProfileLibrary) -> tuple[str, list[Profile]] | None:
    """Which profiles ``rule`` can meet, and how to name them; None when it may meet any."""
    selector = rule.applies_to
    profiles = [library.get(name) for name in library.names()]
    if selector.profiles:
        profiles = [p for p in profiles if p.name in selector.profiles]
        label = "profile " + ", ".join(selector.profiles)
        if selector.kinds:
            profiles = [p for p in profiles if p.kind in selector.kinds]
        return label, profiles
    if selector.kinds:
        return " or ".join(selector.kinds) + " profile", [p for p in profiles if p.kind in selector.kinds]
    return None


def unknown_metric_warnings(ruleset: RuleSet, library: ProfileLibrary) -> list[str]:
    """One line per metric a rule reads that no profile of its kinds (or profiles) defines."""
    warnings = []
    for rule in ruleset.rules:
        scope = _profiles_for(rule, library)
        if scope is None:
            continue
        label, profiles = scope
        where = ruleset.origins.get(rule.name, "?")
        if not profiles:
            warnings.append(f"{where}: {rule.name}: applies_to: no {label} is known, so no device can match")
            continue
        defined = {metric for profile in profiles for metric in profile.metric_names()}
        names = ", ".join(sorted(p.name for p in profiles))
        for field, metric in metrics_read(rule):
            if metric not in defined:
                warnings.append(f"{where}: {rule.name}: {field}: no {label} defines the metric {metric!r} "
                                f"({names}); the rule never sees it")
    return warnings
