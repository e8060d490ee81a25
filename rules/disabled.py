"""Rules taken out of evaluation at run time, and the fault alerts that say so.

A condition that goes over the evaluation budget (:class:`~streetwatch.expressions.ExpressionBudgetError`)
would cost as much again on every reading, so the engine stops evaluating it and raises the alert
``rule:<name>`` at the top severity. The rule stays out until a reload brings a different text for it
(or removes it); then the alert clears.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from rules.alerts import AlertTransition
from rules.evidence import Evidence
from rules.loader import RuleSet
from rules.severity import SeverityScale
from rules.spec import RuleSpec
from rules.transitions import RankChange, make_transition


@dataclass(frozen=True, slots=True)
class DisabledRule:
    """A rule taken out of evaluation, and the fault alert raised for it."""

    spec: RuleSpec
    transition: AlertTransition


class DisabledRules:
    def __init__(self) -> None:
        self._rules: dict[str, DisabledRule] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def reasons(self) -> dict[str, str]:
        """Each disabled rule's name and the message of its alert."""
        return {name: disabled.transition.message for name, disabled in self._rules.items()}

    def disable(self, spec: RuleSpec, why: str, device_id: str, scale: SeverityScale, seq: int,
                now: datetime) -> AlertTransition:
        """Take ``spec`` out; the transition that raises its fault alert."""
        message = f"rule disabled: {why} (evaluating it for {device_id}); fix the rule file, it is reloaded"
        transition = make_transition(seq, spec.name, f"rule:{spec.name}", device=None, evidence=Evidence(0),
                                     change=RankChange(scale, 0, scale.top), now=now, message=message)
        self._rules[spec.name] = DisabledRule(spec, transition)
        return transition

    def release(self, ruleset: RuleSet, scale: SeverityScale, seqs: Iterator[int],
                now: datetime) -> list[AlertTransition]:
        """Let go of the rules ``ruleset`` changes or drops; the transitions that clear their alerts."""
        cleared = []
        for name, disabled in list(self._rules.items()):
            if ruleset.get(name) == disabled.spec:
                continue
            del self._rules[name]
            raised = disabled.transition
            if scale.knows(raised.severity):
                cleared.append(make_transition(
                    next(seqs), name, raised.device_id, device=None, evidence=Evidence(0),
                    change=RankChange(scale, scale.top, 0), now=now, message="rule changed: evaluated again"))
        return cleared
