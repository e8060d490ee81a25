"""Escalation policies: for a severity, whom to notify first, how long to wait for an acknowledgement,
whom next, and whether the chain repeats. Plain data, validated when loaded (:mod:`duty.files`).

A step names people relative to the alert's area: ``on_duty`` (the rota of the policy's role), ``head``
(the area's head) or ``responsible`` (the people responsible for the device, its groups and its area,
inherited upward), ``up`` levels above the alert's area (0: the area itself, 1: its parent, …), or one
``person`` by name.

>>> step = Step("on_duty", up=1, wait_s=300.0, channels=("sms", "email"))
>>> policy = EscalationPolicy("red", "duty_officer", (step,), repeat=False)
>>> policy.step_at(0) is step, policy.step_at(1)
(True, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Whom = Literal["on_duty", "head", "responsible", "person"]


@dataclass(frozen=True, slots=True)
class Step:
    whom: Whom
    up: int = 0
    wait_s: float = 300.0
    channels: tuple[str, ...] = ("sms", "email")
    person: str | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    severity: str
    role: str
    steps: tuple[Step, ...]
    repeat: bool = True
    where: str = ""

    def step_at(self, index: int) -> Step | None:
        """The step ``index`` counts to (wrapping round when the policy repeats), None when the chain is over."""
        if index < len(self.steps):
            return self.steps[index]
        if self.repeat and self.steps:
            return self.steps[index % len(self.steps)]
        return None
