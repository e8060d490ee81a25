"""Building what the engine sends out: alert transitions and the action requests they trigger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from rules.actions import ActionRequest, resolve_targets
from rules.alerts import Alert, AlertEvent, AlertLocation, AlertTransition
from rules.evidence import Evidence
from rules.severity import SeverityScale
from rules.spec import CLEARED, ActionSpec
from rules.task_actions import is_task
from rules.watched import WatchedDevice


@dataclass(frozen=True, slots=True)
class RankChange:
    """A (rule, subject) moved from rank ``before`` to rank ``after`` on ``scale``."""

    scale: SeverityScale
    before: int
    after: int

    @property
    def event(self) -> AlertEvent:
        if self.before == 0:
            return AlertEvent.raised
        if self.after == 0:
            return AlertEvent.cleared
        return AlertEvent.escalated if self.after > self.before else AlertEvent.deescalated

    def triggers(self, at: str) -> bool:
        """Whether an action ``at`` a severity (or ``cleared``) fires: the alert reached it from below."""
        if at == CLEARED:
            return self.after == 0
        return self.before < self.scale.rank(at) <= self.after


_NO_CONTEXT: Mapping[str, float] = MappingProxyType({})


def make_transition(seq: int, rule: str, subject: str, *, device: WatchedDevice | None, evidence: Evidence,
                    change: RankChange, now: datetime, message: str, arrived: float | None = None
                    ) -> AlertTransition:
    """The transition for ``subject``: a device, or ``site:<name>``-style for a group rule."""
    scale, before, after = change.scale, change.before, change.after
    prefix, _, key = subject.partition(":") if device is None else ("", "", "")
    location = (AlertLocation(device.location.latitude, device.location.longitude, device.location.landmark)
                if device is not None else None)
    # Transitions wait in the engine's outbox until the alert store takes them: in an outage of
    # 80,000 devices tens of thousands wait at once, so equal (immutable) parts are shared.
    context = evidence.context if type(evidence.context) is MappingProxyType \
        else MappingProxyType({k: float(v) for k, v in sorted(evidence.context.items())}) if evidence.context \
        else _NO_CONTEXT
    return AlertTransition(
        seq=seq, event=change.event, rule=rule, device_id=subject,
        severity=scale.name(after or before), previous_severity=scale.name(before) if before else None,
        at=now, device_kind=device.kind if device is not None else "",
        site=device.site if device is not None else (key if prefix == "site" else ""),
        location=location, metric=evidence.metric, value=evidence.value, threshold=evidence.threshold,
        message=message, context=context,
        arrived_monotonic=arrived,
    )


def clear_transition(seq: int, alert: Alert, now: datetime, why: str) -> AlertTransition:
    """Clear a stored alert the engine cannot follow any more (its rule or device is gone)."""
    return AlertTransition(
        seq=seq, event=AlertEvent.cleared, rule=alert.rule, device_id=alert.device_id, severity=alert.severity,
        previous_severity=alert.severity, at=now, device_kind=alert.device_kind, site=alert.site,
        location=alert.location, metric=alert.metric, value=alert.value, threshold=alert.threshold, message=why)


def action_requests(rule: str, actions: Sequence[ActionSpec], device: WatchedDevice | None, transition: AlertTransition,
                    change: RankChange) -> tuple[list[ActionRequest], list[ActionSpec]]:
    """The commands ``transition`` triggers, and the actions that found no target."""
    requests: list[ActionRequest] = []
    untargeted: list[ActionSpec] = []
    for spec in actions:
        if is_task(spec) or not change.triggers(spec.at):
            continue  # task orders are dispatched by duty from the stored transition (rules.task_actions)
        prefix, _, key = transition.device_id.partition(":")
        targets = resolve_targets(spec, device, None if device is not None else (prefix, key))
        if not targets:
            untargeted.append(spec)
        reason = f"{transition.severity} alert {transition.event}: {transition.message}"
        requests += [ActionRequest(target, spec.action, dict(spec.params), f"rule:{rule}", reason)
                     for target in targets]
    return requests, untargeted
