"""Alerts as the rest of Streetwatch sees them: states, events, transitions, stored alerts.

Lifecycle: ``raised`` → ``acknowledged`` (by whom, with a note) → ``cleared`` (by the rule when the
condition is gone, or by hand) → ``closed``. An acknowledged alert closes as it clears; a cleared
alert nobody acknowledged stays ``cleared`` until someone does, and is reopened if its condition
returns first. There is at most one alert per (rule, device) that is not closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class AlertState(StrEnum):
    raised = "raised"
    acknowledged = "acknowledged"
    cleared = "cleared"
    closed = "closed"


ACTIVE_STATES = (AlertState.raised, AlertState.acknowledged)
"""The rule's condition still holds."""
OPEN_STATES = (AlertState.raised, AlertState.acknowledged, AlertState.cleared)
"""Not finished: at most one such alert per (rule, device)."""


class AlertEvent(StrEnum):
    raised = "raised"
    escalated = "escalated"
    deescalated = "deescalated"
    cleared = "cleared"
    acknowledged = "acknowledged"
    closed = "closed"
    reopened = "reopened"
    reminder = "reminder"


@dataclass(frozen=True, slots=True)
class AlertLocation:
    latitude: float
    longitude: float
    landmark: str = ""


@dataclass(frozen=True, slots=True)
class HazardPlace:
    """The hazard point (culvert, underpass, low road) a device watches, as alerts name it."""

    id: str
    name: str
    landmark: str = ""

    @property
    def title(self) -> str:
        """``Xujiahui underpass (Zhaojiabang Rd at Tianyaoqiao Rd)``."""
        return f"{self.name} ({self.landmark})" if self.landmark else self.name

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "landmark": self.landmark}


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """What the engine tells an :class:`AlertSink`: a (rule, device) changed severity or cleared.

    ``device_id`` is the device, or ``site:<name>``/``group:<name>``/``tag:<k>=<v>`` for a group rule.
    ``severity`` is the new severity (for ``cleared``, the one that cleared).
    """

    seq: int
    event: AlertEvent
    rule: str
    device_id: str
    severity: str
    previous_severity: str | None
    at: datetime
    device_kind: str = ""
    site: str = ""
    location: AlertLocation | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    context: Mapping[str, float] = field(default_factory=dict)
    arrived_monotonic: float | None = None
    """When the reading behind this transition reached the engine (``Clock.monotonic``), for latency."""
    hazard: HazardPlace | None = None
    """The hazard point the device watches (the alert service fills it in and names it in ``message``)."""


class AlertSink(Protocol):
    """Where the engine's transitions go: the alert store and notifier (:class:`rules.service.AlertService`)."""

    async def apply(self, transition: AlertTransition) -> None:
        """Record and announce the transition. Raise :class:`AlertSinkUnavailable` to be retried."""
        ...


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as stored."""

    id: int
    rule: str
    device_id: str
    device_kind: str
    site: str
    severity: str
    peak_severity: str
    state: AlertState
    raised_at: datetime
    updated_at: datetime
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    context: Mapping[str, float] = field(default_factory=dict)
    location: AlertLocation | None = None
    hazard: HazardPlace | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_note: str | None = None
    closed_at: datetime | None = None
    notified_state: str | None = None
    notified_severity: str | None = None
    reminded_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def notified(self) -> bool:
        """Subscribers have heard of this state and severity."""
        return (self.notified_state, self.notified_severity) == (self.state.value, self.severity)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    alert_id: int
    at: datetime
    event: AlertEvent
    severity: str
    state: AlertState
    value: float | None = None
    actor: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What storing a transition did: the alert as it now is and the events recorded."""

    alert: Alert
    events: tuple[AlertEvent, ...]

    @property
    def event(self) -> AlertEvent:
        return self.events[-1]
