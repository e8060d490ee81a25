"""Whom an escalation step reaches: people named relative to the alert's area, then their channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from duty.contacts import Contact
from duty.policy import EscalationPolicy, Step
from duty.roster import Roster


@dataclass(frozen=True, slots=True)
class Place:
    """Where an alert is, for responsibility: the device, its groups and its area."""

    device_id: str
    area: str
    groups: tuple[str, ...] = ()
    parent: str | None = None  # the device's ``parent`` tag: the cabinet, converter or gateway it hangs on


async def people_for(roster: Roster, policy: EscalationPolicy, step: Step, place: Place, at: datetime) -> list[str]:
    """The people ``step`` names for an alert at ``place`` at ``at`` (empty when nobody is on duty there)."""
    chain = await roster.chain(place.area)
    area = chain[min(step.up, len(chain) - 1)]
    if step.whom == "person":
        return [step.person] if step.person else []
    if step.whom == "head":
        return await roster.responsibility.of("area", area, "head")
    if step.whom == "responsible":
        return await roster.responsibility.for_device(place.device_id, place.groups, chain[step.up:])
    person = await roster.on_duty(area, policy.role, at)
    return [person] if person else []


async def contacts_for(roster: Roster, people: Sequence[str], channels: Sequence[str]) -> list[Contact]:
    """Each person's addresses on the step's channels, in the step's order of channels."""
    found: list[Contact] = []
    for person in people:
        theirs = await roster.contacts_of(person)
        found += [c for channel in channels for c in theirs if c.channel == channel]
    return found
