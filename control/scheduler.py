"""The scheduler: lamps follow the schedules assigned to their groups and sites.

- At every transition of a lamp's schedule (at its own location) it sends the new dim level;
  lamps that change together form one command.
- It **re-asserts**: when the gateway starts, every scheduled lamp gets the level its schedule
  says now; when a lamp comes back online it gets it again, unless a newer command for its dim
  level is already waiting (an operator's command is not overridden by a re-assert).
- Lamps whose profile has an on-device ``schedule_table`` get the day's table pushed once per
  lighting day, so they keep their schedule while the network is down.

A manual command holds until the schedule's next transition. The pure part (which lamps change,
to what, when) is :meth:`Scheduler.due`; :meth:`tick` sends, :meth:`run` waits between ticks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from control.assignments import Assignment, AssignmentStore, schedule_for
from control.dispatcher import Dispatcher
from control.errors import ControlError
from control.library import ScheduleLibrary
from control.model import Action, Command, CommandTarget
from control.orders import supports
from control.schedule import Schedule
from control.timeline import Place, lighting_day, next_change, setpoint_at
from device_registry import Device
from streetwatch.clock import Clock, SystemClock
from streetwatch.database import DatabaseUnavailable

log = logging.getLogger(__name__)
REQUESTER = "scheduler"


@dataclass
class ScheduledLamp:
    device: Device
    assignment: Assignment
    schedule: Schedule
    has_table: bool
    next_at: datetime | None = None
    next_source: str = ""
    pushed_day: date | None = None

    @property
    def key(self) -> tuple[str, float, float, str]:
        """What its timing depends on: when it changes, the lamp is planned afresh."""
        loc = self.device.location
        return (self.schedule.name, loc.latitude, loc.longitude, self.assignment.scope)

    def place(self, zone: zoneinfo.ZoneInfo) -> Place:
        return Place(self.device.location.latitude, self.device.location.longitude, zone)


class Scheduler:
    def __init__(self, dispatcher: Dispatcher, assignments: AssignmentStore, schedules: ScheduleLibrary, *,
                 zone: zoneinfo.ZoneInfo, clock: Clock | None = None, refresh_s: float = 60.0) -> None:
        self.dispatcher = dispatcher
        self.assignments = assignments
        self.schedules = schedules
        self.zone = zone
        self.clock = clock or SystemClock()
        self.refresh_s = refresh_s
        self.lamps: dict[str, ScheduledLamp] = {}
        self._wake = asyncio.Event()
        self._reload_wanted = False

    # -- which lamps follow what -----------------------------------------------------------------

    async def reload(self) -> None:
        """Read the assignments and their devices again; lamps whose timing did not change keep their plan."""
        assignments = await self.assignments.all()
        devices: dict[str, Device] = {}
        for assignment in assignments:
            try:
                found = await self.dispatcher.directory.resolve(CommandTarget(assignment.scope_kind,
                                                                              assignment.scope_value))
            except ControlError as exc:
                log.warning("schedule %s for %s: %s", assignment.schedule, assignment.scope, exc)
                continue
            devices.update((d.id, d) for d in found)
        lamps: dict[str, ScheduledLamp] = {}
        for device in devices.values():
            followed = schedule_for(device, assignments)
            if followed is None:
                continue
            assignment = followed
            try:
                schedule = self.schedules.get(assignment.schedule)
            except ControlError as exc:
                log.warning("%s: %s", assignment.scope, exc)
                continue
            profile = await self.dispatcher.directory.profile(device.profile)
            if supports(profile, Action.set_dim) is not None:
                continue
            has_table = (supports(profile, Action.set_schedule) is None and profile is not None
                         and profile.modbus is not None and profile.modbus.schedule_table is not None)
            lamp = ScheduledLamp(device, assignment, schedule, has_table)
            before = self.lamps.get(device.id)
            if before is not None and before.key == lamp.key:
                lamp.next_at, lamp.next_source, lamp.pushed_day = before.next_at, before.next_source, before.pushed_day
            else:
                self._plan(lamp, self.clock.now())
            lamps[device.id] = lamp
        self.lamps = lamps
        self._wake.set()

    def _plan(self, lamp: ScheduledLamp, after: datetime) -> None:
        place = lamp.place(self.zone)
        step = next_change(lamp.schedule, after, place.latitude, place.longitude, self.zone)
        lamp.next_at = step.at if step is not None else None
        lamp.next_source = step.source if step is not None else ""

    def level(self, lamp: ScheduledLamp, when: datetime) -> int:
        place = lamp.place(self.zone)
        return setpoint_at(lamp.schedule, when, place.latitude, place.longitude, self.zone)

    # -- sending ---------------------------------------------------------------------------------

    def due(self, now: datetime) -> dict[tuple[Assignment, int, str], list[Device]]:
        """Lamps whose next transition has come, by (assignment, level, what triggered it); replans them."""
        batches: dict[tuple[Assignment, int, str], list[Device]] = defaultdict(list)
        horizon_passed = [lamp for lamp in self.lamps.values() if lamp.next_at is None]
        for lamp in self.lamps.values():
            if lamp.next_at is not None and lamp.next_at <= now:
                batches[(lamp.assignment, self.level(lamp, now), lamp.next_source)].append(lamp.device)
                self._plan(lamp, now)
        for lamp in horizon_passed:  # nothing changes for days (midnight sun): look again later
            self._plan(lamp, now)
        return batches

    async def tick(self, now: datetime) -> list[Command]:
        """Send the levels of every lamp whose transition has come."""
        sent = []
        for (assignment, level, source), devices in self.due(now).items():
            reason = f"schedule {assignment.schedule}: {source}"
            sent.append(await self._send(assignment, devices, level, reason))
        return sent

    async def reassert_all(self, reason: str) -> list[Command]:
        """Send every scheduled lamp the level its schedule says now (gateway start)."""
        now = self.clock.now()
        batches: dict[tuple[Assignment, int], list[Device]] = defaultdict(list)
        for lamp in self.lamps.values():
            batches[(lamp.assignment, self.level(lamp, now))].append(lamp.device)
        return [await self._send(assignment, devices, level, f"schedule {assignment.schedule}: {reason}")
                for (assignment, level), devices in batches.items()]

    async def reassert(self, device_id: str) -> None:
        """A lamp came back online: give it its schedule's level, unless a newer command waits for it."""
        lamp = self.lamps.get(device_id)
        if lamp is None or Action.set_dim.setpoint_kind in self.dispatcher.pending_kinds(device_id):
            return
        level = self.level(lamp, self.clock.now())
        try:
            await self._send(lamp.assignment, [lamp.device], level,
                             f"schedule {lamp.assignment.schedule}: re-assert, device back online")
        except (ControlError, DatabaseUnavailable) as exc:
            log.error("could not re-assert the schedule of %s: %s", device_id, exc)

    async def push_tables(self, now: datetime) -> list[Command]:
        """Push the lighting day's table to lamps that keep one, once per lighting day."""
        batches: dict[Assignment, list[ScheduledLamp]] = defaultdict(list)
        for lamp in self.lamps.values():
            if lamp.has_table and lamp.pushed_day != lighting_day(lamp.schedule, now, lamp.place(self.zone)):
                batches[lamp.assignment].append(lamp)
        sent = []
        for assignment, lamps in batches.items():
            target = CommandTarget(assignment.scope_kind, assignment.scope_value)
            sent.append(await self.dispatcher.submit(
                target, Action.set_schedule.value, {"schedule": assignment.schedule}, REQUESTER,
                f"on-device table of schedule {assignment.schedule}", devices=[lamp.device for lamp in lamps]))
            for lamp in lamps:
                lamp.pushed_day = lighting_day(lamp.schedule, now, lamp.place(self.zone))
        return sent

    async def _send(self, assignment: Assignment, devices: list[Device], level: int, reason: str) -> Command:
        target = CommandTarget(assignment.scope_kind, assignment.scope_value)
        return await self.dispatcher.submit(target, Action.set_dim.value, {"level_pct": level}, REQUESTER, reason,
                                            devices=devices)

    # -- running ---------------------------------------------------------------------------------

    def next_wake(self, now: datetime) -> datetime:
        upcoming = [lamp.next_at for lamp in self.lamps.values() if lamp.next_at is not None]
        return min([*upcoming, now + timedelta(seconds=self.refresh_s)])

    def request_reload(self) -> None:
        """Assignments changed: read them again now rather than at the next refresh."""
        self._reload_wanted = True
        self._wake.set()

    async def start(self) -> None:
        """Listen for lamps coming online, read the assignments, and re-assert every lamp."""
        self.dispatcher.add_online_listener(self.reassert)
        await self.reload()
        await self.reassert_all("re-assert at gateway start")

    async def run(self) -> None:
        """:meth:`start`, then follow the schedules until cancelled."""
        await self.start()
        refreshed = self.clock.now()
        while True:
            now = self.clock.now()
            try:
                if (now - refreshed).total_seconds() >= self.refresh_s or self._reload_wanted:
                    self._reload_wanted = False
                    await self.reload()
                    refreshed = now
                await self.tick(now)
                await self.push_tables(now)
            except (ControlError, DatabaseUnavailable) as exc:
                log.error("scheduler: %s; trying again at the next tick", exc)
            self._wake.clear()
            wait_s = (self.next_wake(self.clock.now()) - self.clock.now()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait_s, 0.0))
