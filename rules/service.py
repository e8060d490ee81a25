"""The alert sink the engine writes to: store the transition, then announce it once.

It also sweeps: alerts whose current state subscribers have not heard of (an MQTT outage, an
acknowledgement made from the CLI) are announced, and unacknowledged alerts of the reminder
severities are announced again every ``reminder_interval_s``. When the database is down a
transition is announced from memory (without an alert id) as soon as storing fails or takes more
than ``announce_unstored_after_s``, and stored when the database is back, without a second
announcement. A transition of a device that watches a hazard point (``places``) is stored and
announced with the point, its message led by the point's name and landmark.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from rules.alert_store import AlertStore
from rules.alerts import Alert, AlertChange, AlertEvent, AlertState, AlertTransition, HazardPlace
from rules.errors import AlertSinkUnavailable, NotificationError
from rules.notifier import Notifier
from streetwatch.clock import Clock

log = logging.getLogger(__name__)
Announced = Callable[[AlertTransition | None, Alert], None]


class AlertService:
    """An :class:`~rules.alerts.AlertSink` over an :class:`AlertStore` and a :class:`Notifier`."""

    def __init__(self, store: AlertStore, notifier: Notifier | None, *, clock: Clock,
                 reminder_interval_s: float = 900.0, reminder_severities: Sequence[str] = ("red",),
                 lookback_s: float = 86_400.0, announce_unstored_after_s: float = 2.0,
                 on_announced: Announced | None = None) -> None:
        self.store = store
        self.notifier = notifier
        self._clock = clock
        self.reminder_interval_s = reminder_interval_s
        self.reminder_severities = tuple(reminder_severities)
        self.lookback_s = lookback_s
        self.announce_unstored_after_s = announce_unstored_after_s
        self._on_announced = on_announced
        self._unstored: dict[int, asyncio.Task[bool]] = {}  # by transition seq
        self._failing = False
        self.notification_failures = 0
        self.places: Mapping[str, HazardPlace] = {}
        """The hazard point each device watches (device id → place): its alerts speak of the place."""

    def _placed(self, transition: AlertTransition) -> AlertTransition:
        """The transition speaking of the hazard point its device watches, if it watches one."""
        place = self.places.get(transition.device_id)
        if place is None:
            return transition
        said = transition.message
        return dataclasses.replace(transition, hazard=place, message=f"{place.title}: {said}" if said else place.title)

    async def apply(self, transition: AlertTransition) -> None:
        transition = self._placed(transition)
        # Stored in this task (no extra hop through the event loop); if that takes too long, or fails,
        # a side task announces the transition from memory meanwhile.
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.announce_unstored_after_s, self._start_unstored, transition)
        try:
            change = await self.store.apply(transition)
        except AlertSinkUnavailable:
            self._start_unstored(transition)
            raise
        finally:
            timer.cancel()
        unstored = self._unstored.pop(transition.seq, None)
        if change is None:
            return
        if unstored is not None and await unstored:  # subscribers heard of it already
            await self.store.mark_notified(change.alert.id, change.alert.state, change.alert.severity)
            return
        await self._announce(change.alert, change.event, transition)

    async def apply_many(self, transitions: Sequence[AlertTransition]) -> None:
        """:meth:`apply` for transitions in order: stored in one transaction, announced together (each
        QoS 1 publish in flight at once, in order on the wire), marked notified in one write."""
        transitions = [self._placed(t) for t in transitions]
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.announce_unstored_after_s, self._start_all_unstored, transitions)
        try:
            changes = await self.store.apply_many(transitions)
        except AlertSinkUnavailable:
            self._start_all_unstored(transitions)
            raise
        finally:
            timer.cancel()
        told: list[Alert] = []
        to_announce: list[tuple[AlertChange, AlertTransition]] = []
        for transition, change in zip(transitions, changes, strict=True):
            unstored = self._unstored.pop(transition.seq, None)
            if change is None:
                continue
            if unstored is not None and await unstored:  # subscribers heard of it already
                told.append(change.alert)
            else:
                to_announce.append((change, transition))
        announced = await asyncio.gather(*(self._announce(change.alert, change.event, transition, mark=False)
                                           for change, transition in to_announce))
        told += [change.alert for (change, _), done in zip(to_announce, announced, strict=True) if done]
        await self.store.mark_notified_many(told)

    def _start_all_unstored(self, transitions: Sequence[AlertTransition]) -> None:
        for transition in transitions:
            self._start_unstored(transition)

    def _start_unstored(self, transition: AlertTransition) -> None:
        if self.notifier is not None and transition.seq not in self._unstored:
            self._unstored[transition.seq] = asyncio.get_running_loop().create_task(
                self._announce_unstored(transition), name=f"announce unstored alert {transition.seq}")

    async def _announce(self, alert: Alert, event: AlertEvent, transition: AlertTransition | None = None, *,
                        mark: bool = True) -> bool:
        if alert.notified or self.notifier is None:
            return False
        try:
            await self.notifier.notify(alert, event)
        except NotificationError as exc:
            self.notification_failures += 1
            if not self._failing:
                log.error("alert %d (%s %s): %s; it goes out when the broker is back", alert.id, alert.rule,
                          alert.device_id, exc)
            self._failing = True
            return False
        self._failing = False
        if self._on_announced is not None:
            self._on_announced(transition, alert)
        if mark:
            await self.store.mark_notified(alert.id, alert.state, alert.severity)
        return True

    async def _announce_unstored(self, t: AlertTransition) -> bool:
        assert self.notifier is not None
        try:
            await self.notifier.notify_unstored(t)
        except NotificationError as exc:
            log.error("alert %s %s could not be stored nor announced: %s", t.rule, t.device_id, exc)
            return False
        return True

    async def sweep(self, now: datetime) -> int:
        """Announce what was missed and remind of unacknowledged alerts; the number announced."""
        if self.notifier is None:
            return 0
        count = 0
        for alert in await self.store.unnotified(now - timedelta(seconds=self.lookback_s)):
            count += await self._announce(alert, _event_for(alert, self.store))
        due = now - timedelta(seconds=self.reminder_interval_s)
        for alert in await self.store.due_reminders(self.reminder_severities, due):
            try:
                await self.notifier.notify(alert, AlertEvent.reminder, key=("reminder", alert.id, now))
            except NotificationError as exc:
                log.warning("reminder for alert %d not sent: %s", alert.id, exc)
                break
            await self.store.mark_reminded(alert.id, now)
            count += 1
        return count


def _event_for(alert: Alert, store: AlertStore) -> AlertEvent:
    """The event that brings subscribers from what they were told to the alert's state now."""
    told_state, told_severity = alert.notified_state, alert.notified_severity
    if told_state == alert.state.value and told_severity is not None:
        higher = store.scale.knows(alert.severity) and store.scale.knows(told_severity) \
            and store.scale.rank(alert.severity) > store.scale.rank(told_severity)
        return AlertEvent.escalated if higher else AlertEvent.deescalated
    if alert.state is AlertState.raised:
        return AlertEvent.reopened if told_state in (AlertState.cleared.value, AlertState.closed.value) \
            else AlertEvent.raised
    return AlertEvent(alert.state.value)
