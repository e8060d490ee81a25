"""The dispatcher: takes queued deliveries from the database and carries them to the devices.

- Commands come from :meth:`Dispatcher.submit` (rules, the scheduler) or from the CLI in another
  process, through the database; the dispatcher picks up new deliveries every ``pickup_interval_s``
  and at once after a submit.
- One worker per device with something to do, at most ``fanout_concurrency`` attempts at once.
  A device holds at most one open delivery per set-point kind: a newer one replaces the older
  (latest wins); attempts of one device go one at a time, oldest first, so an older dim level is
  never written after a newer one.
- A failed attempt is retried with backoff until the delivery's time to live; then it is
  ``expired``. A refusal is final (``failed``).
- An offline device's deliveries wait (without attempts) until :meth:`on_device_online` or expiry;
  coming online also tells the listeners (the scheduler re-asserts the lamp's set-point).

>>> async with Dispatcher(store, directory, {"modbus": modbus, "mqtt": mqtt}) as dispatcher:  # doctest: +SKIP
...     command = await dispatcher.submit(CommandTarget("group", "pier"), "set_dim", {"level_pct": 40},
...                                       requester="rules:fog", reason="fog on the pier")
...     progress = await dispatcher.wait_for(command.id)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zoneinfo
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from control.channel import DeliveryChannel, DeliveryJob
from control.errors import ControlError, DeliveryError, DeliveryRejected
from control.library import ScheduleLibrary
from control.lookup import DeviceLookup
from control.model import Action, Command, CommandProgress, CommandTarget, Delivery, DeliveryStatus
from control.orders import place_order
from control.status_writer import StatusWriter
from control.store import CommandStore, StatusUpdate
from control.timeline import Place, lighting_day, table
from device_registry import Device, Profile
from streetwatch.backoff import Backoff
from streetwatch.clock import Clock, SystemClock
from streetwatch.config import ControlSettings
from streetwatch.database import DatabaseUnavailable

log = logging.getLogger(__name__)
PICKUP_BATCH = 5_000
OnlineListener = Callable[[str], Coroutine[Any, Any, None]]


class TargetLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> str: ...


@dataclass
class _Pending:
    delivery: Delivery
    attempts: int
    backoff: Backoff
    next_at: float = 0.0  # monotonic seconds
    error: str | None = None


@dataclass
class _DeviceState:
    device: Device
    profile: Profile | None
    pending: dict[str, _Pending] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None


class Dispatcher:
    """Delivers commands; implements the rules engine's CommandSink (:meth:`submit`)."""

    def __init__(self, store: CommandStore, directory: DeviceLookup, channels: Mapping[str, DeliveryChannel], *,
                 settings: ControlSettings | None = None, clock: Clock | None = None,
                 schedules: ScheduleLibrary | None = None, zone: zoneinfo.ZoneInfo | None = None) -> None:
        self.store = store
        self.directory = directory
        self.channels = dict(channels)
        self.settings = settings or ControlSettings()
        self.clock = clock or SystemClock()
        self.schedules = schedules
        self.zone = zone or zoneinfo.ZoneInfo("UTC")
        self._states: dict[str, _DeviceState] = {}
        self._offline: set[str] = set()
        self._listeners: list[OnlineListener] = []
        self._open_by_command: dict[int, int] = {}
        self._command_done: dict[int, asyncio.Event] = {}
        self._last_id = 0
        self._cancel_mark: datetime | None = None
        self._cancelled_seen: set[int] = set()
        self._slots = asyncio.Semaphore(self.settings.fanout_concurrency)
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._resolved: dict[str, Device] = {}
        self._pickup_lock = asyncio.Lock()
        self._pickup_wake = asyncio.Event()
        self._writer = StatusWriter(store)
        self._group: asyncio.TaskGroup | None = None
        self._own: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._writer.__aenter__()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        await self._pickup()
        self._spawn(self._pickup_loop(), name="control-pickup")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        group, self._group = self._group, None
        for task in list(self._own):
            task.cancel()
        try:
            if group is not None:
                await group.__aexit__(exc_type, exc, tb)
        finally:
            await self._writer.__aexit__(exc_type, exc, tb)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        if self._group is None:
            raise ControlError("the dispatcher is not running: use `async with Dispatcher(...)`")
        task = self._group.create_task(coro, name=name)
        self._own.add(task)
        task.add_done_callback(self._own.discard)
        return task

    # -- taking commands -------------------------------------------------------------------------

    async def submit(self, target: TargetLike, action: str, params: Mapping[str, Any], requester: str, reason: str,
                     *, ttl_s: float | None = None, devices: Sequence[Device] | None = None,
                     request_key: str | None = None) -> Command:
        """Queue a command and start delivering it (the rules engine's CommandSink).

        A ``request_key`` used before queues nothing more: the first command is returned.
        """
        order = await place_order(self.store, self.directory, CommandTarget.parse(f"{target.kind}:{target.value}"),
                                  action, params, requester=requester, reason=reason,
                                  ttl_s=ttl_s or self.settings.command_ttl_s, schedules=self.schedules,
                                  devices=devices, request_key=request_key)
        self._resolved.update((d.id, d) for d in order.devices)  # spares reading them again at pickup
        if order.skipped:
            log.info("command %d: %d device(s) of %s skipped (%s)", order.command.id, len(order.skipped), target,
                     order.skipped[0][1])
        await self._pickup()
        return order.command

    async def wait_for(self, command_id: int) -> CommandProgress:
        """Wait until every delivery of the command is finished and recorded."""
        await self._pickup()
        if self._open_by_command.get(command_id, 0) > 0:
            await self._command_done.setdefault(command_id, asyncio.Event()).wait()
        await self._writer.flush()
        return await self.store.progress(command_id)

    async def _pickup_loop(self) -> None:
        outage = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pickup_wake.wait(), self.settings.pickup_interval_s)
            self._pickup_wake.clear()
            try:
                await self._pickup()
            except DatabaseUnavailable as exc:
                if not outage:
                    log.error("cannot read queued commands (%s); trying again", exc)
                outage = True
                continue
            if outage:
                log.warning("reading queued commands again")
                outage = False

    async def _pickup(self) -> None:
        async with self._pickup_lock:
            while True:
                rows = await self.store.open_deliveries(after_id=self._last_id, limit=PICKUP_BATCH)
                if rows:
                    self._last_id = rows[-1].id
                    await self._admit(rows)
                if len(rows) < PICKUP_BATCH:
                    break
            await self._apply_cancellations()

    async def _admit(self, rows: list[Delivery]) -> None:
        unknown = {r.device_id for r in rows} - self._states.keys()
        found = {i: self._resolved[i] for i in unknown if i in self._resolved}
        unknown -= found.keys()
        self._resolved.clear()
        if unknown:
            found.update(await self.directory.devices(unknown))
        profiles: dict[str, Profile | None] = {}
        now = self.clock.now()
        for row in rows:
            self._open_by_command[row.command_id] = self._open_by_command.get(row.command_id, 0) + 1
            state = self._states.get(row.device_id)
            if state is None:
                device = found.get(row.device_id)
                if device is None:
                    await self._record(row, DeliveryStatus.failed, row.attempts, f"{row.device_id} is not registered")
                    continue
                if device.profile not in profiles:
                    profiles[device.profile] = await self.directory.profile(device.profile)
                state = self._states[row.device_id] = _DeviceState(device, profiles[device.profile])
            if row.expires_at <= now:
                await self._record(row, DeliveryStatus.expired, row.attempts, "expired before it could be sent")
                continue
            older = state.pending.get(row.setpoint_kind)
            if older is not None:
                await self._drop(state, older, DeliveryStatus.superseded, None)
            state.pending[row.setpoint_kind] = _Pending(row, row.attempts, self._backoff())
            state.wake.set()
            if state.worker is None:
                state.worker = self._spawn(self._work(state), name=f"control-deliver-{row.device_id}")

    def _backoff(self) -> Backoff:
        return Backoff(initial_s=self.settings.retry_initial_s, max_s=self.settings.retry_max_s)

    async def _apply_cancellations(self) -> None:
        cancelled = [(cid, at) for cid, at in await self.store.cancelled_since(self._cancel_mark)
                     if cid not in self._cancelled_seen]
        if not cancelled:
            return
        self._cancel_mark = max(at for _, at in cancelled)
        ids = {cid for cid, _ in cancelled}
        self._cancelled_seen |= ids
        for state in list(self._states.values()):
            for pending in list(state.pending.values()):
                if pending.delivery.command_id in ids:
                    await self._drop(state, pending, DeliveryStatus.cancelled, None)
            state.wake.set()

    # -- delivering ------------------------------------------------------------------------------

    async def _work(self, state: _DeviceState) -> None:
        device_id = state.device.id
        try:
            while state.pending:
                state.wake.clear()
                now = self.clock.now()
                for pending in list(state.pending.values()):
                    if pending.delivery.expires_at <= now:
                        why = f"not confirmed within its time to live after {pending.attempts} attempt(s)"
                        await self._drop(state, pending, DeliveryStatus.expired,
                                         f"{why}: {pending.error}" if pending.error else why)
                if not state.pending:
                    break
                until_expiry = min((p.delivery.expires_at - now).total_seconds() for p in state.pending.values())
                monotonic = self.clock.monotonic()
                due = [p for p in state.pending.values() if p.next_at <= monotonic]
                if device_id in self._offline or not due:
                    retry_in = min(p.next_at for p in state.pending.values()) - monotonic
                    wait = until_expiry if device_id in self._offline else min(retry_in, until_expiry)
                    await self._sleep(state, wait)
                    continue
                pending = min(due, key=lambda p: p.delivery.id)
                # The bus first: a worker queued behind its bus must not hold one of the global slots
                # while other buses stand idle.
                async with self._bus_gate(state.device), self._slots:
                    await self._attempt(state, pending)
        finally:
            state.worker = None
            if not state.pending and self._states.get(device_id) is state:
                del self._states[device_id]  # read the device afresh next time

    def _bus_gate(self, device: Device) -> asyncio.Semaphore:
        """One delivery at a time per Modbus bus (it carries one request at a time anyway)."""
        key = device.bus_key
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.Semaphore(1 if device.transport.is_modbus else
                                                        self.settings.fanout_concurrency)
        return gate

    @staticmethod
    async def _sleep(state: _DeviceState, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.wake.wait(), max(seconds, 0.0))

    async def _attempt(self, state: _DeviceState, pending: _Pending) -> None:
        delivery = pending.delivery
        pending.attempts += 1
        await self._writer.put(StatusUpdate(delivery.id, DeliveryStatus.sent, pending.attempts, self.clock.now()))
        try:
            job = self._job(state, delivery, pending.attempts)
            await self._channel(state.device).deliver(job)
        except DeliveryRejected as exc:
            await self._drop(state, pending, DeliveryStatus.failed, str(exc))
        except DeliveryError as exc:
            pending.error = str(exc)
            pending.next_at = pending.backoff.failed(self.clock.monotonic())
            if state.pending.get(delivery.setpoint_kind) is pending:
                await self._writer.put(StatusUpdate(delivery.id, DeliveryStatus.sent, pending.attempts,
                                                    self.clock.now(), pending.error))
            log.debug("delivery %d to %s, attempt %d: %s", delivery.id, state.device.id, pending.attempts, exc)
        else:
            await self._drop(state, pending, DeliveryStatus.confirmed, None)

    def _channel(self, device: Device) -> DeliveryChannel:
        transport = "modbus" if device.transport.is_modbus else "mqtt"
        channel = self.channels.get(transport)
        if channel is None:
            raise DeliveryRejected(f"no {transport} channel in this gateway")
        return channel

    def _job(self, state: _DeviceState, delivery: Delivery, attempt: int) -> DeliveryJob:
        if state.profile is None:
            raise DeliveryRejected(f"profile {state.device.profile} is unknown")
        params = dict(delivery.params)
        if delivery.action is Action.set_schedule:
            params.update(self._schedule_table(state.device, params["schedule"]))
        return DeliveryJob(delivery.id, state.device, state.profile, delivery.action, params, attempt,
                           self.settings.attempt_timeout_s, delivery.expires_at)

    def _schedule_table(self, device: Device, name: str) -> dict[str, Any]:
        if self.schedules is None:
            raise DeliveryRejected("this gateway has no schedules loaded")
        try:
            schedule = self.schedules.get(name)
        except ControlError as exc:
            raise DeliveryRejected(str(exc)) from None
        place = Place(device.location.latitude, device.location.longitude, self.zone)
        day = lighting_day(schedule, self.clock.now(), place)
        slots = table(schedule, day, place.latitude, place.longitude, self.zone)
        return {"date": day.isoformat(), "zone": self.zone.key, "slots": [list(slot) for slot in slots]}

    async def _drop(self, state: _DeviceState, pending: _Pending, status: DeliveryStatus, error: str | None) -> None:
        """Finish a delivery that is still the device's current one of its kind."""
        kind = pending.delivery.setpoint_kind
        if state.pending.get(kind) is not pending:
            return  # replaced or cancelled while its attempt was on the way
        del state.pending[kind]
        self._channel_release(state.device, pending.delivery.id)
        await self._record(pending.delivery, status, pending.attempts, error or pending.error)

    def _channel_release(self, device: Device, delivery_id: int) -> None:
        transport = "modbus" if device.transport.is_modbus else "mqtt"
        channel = self.channels.get(transport)
        if channel is not None:
            channel.release(delivery_id)

    async def _record(self, delivery: Delivery, status: DeliveryStatus, attempts: int, error: str | None) -> None:
        await self._writer.put(StatusUpdate(delivery.id, status, attempts, self.clock.now(), error))
        command_id = delivery.command_id
        left = self._open_by_command.get(command_id, 0) - 1
        if left > 0:
            self._open_by_command[command_id] = left
            return
        self._open_by_command.pop(command_id, None)
        event = self._command_done.pop(command_id, None)
        if event is not None:
            event.set()

    # -- what the gateway tells us ---------------------------------------------------------------

    def on_device_offline(self, device_id: str) -> None:
        """Hold the device's deliveries (no attempts) until it is back or they expire."""
        self._offline.add(device_id)

    def on_device_online(self, device_id: str) -> None:
        """Deliver what waits for the device now, and tell the listeners (schedule re-assert)."""
        self._offline.discard(device_id)
        state = self._states.get(device_id)
        if state is not None:
            for pending in state.pending.values():
                pending.next_at = 0.0
                pending.backoff.succeeded()
            state.wake.set()
        for i, listener in enumerate(self._listeners):
            self._spawn(listener(device_id), name=f"control-online-{i}-{device_id}")

    def add_online_listener(self, listener: OnlineListener) -> None:
        self._listeners.append(listener)

    def is_offline(self, device_id: str) -> bool:
        return device_id in self._offline

    def pending_kinds(self, device_id: str) -> set[str]:
        """The set-point kinds the device has an open delivery of."""
        state = self._states.get(device_id)
        return set(state.pending) if state is not None else set()

    @property
    def queue_depth(self) -> int:
        """Open deliveries the dispatcher holds (a metric operators watch)."""
        return sum(len(s.pending) for s in self._states.values())

