"""The services `streetwatch run` composes beside the intake: the rules engine and remote control.

    control   the command dispatcher (Modbus: write and read back over the gateway's one bus pool,
              shared with the poller; MQTT: cmd and cmd/ack) and the lighting scheduler; told when
              devices go offline and come back
    rules     the rules engine with the alert store and notifications; its actions go to control
    duty      escalation of raised alerts to the people on duty, the notification outbox, and the
              task orders of rules' ``dispatch_task`` actions, read from the stored alert history
              (composed when ``[duty] duty_dir`` holds rotas and policies; docs/duty.md)

Rules see every reading and online/offline change through the gateway's fan-out; a rule's action
(a red flood alert dims the hazard point's lamps to 100 %) is submitted to the dispatcher with the
rule recorded as the requester.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric

from control import (
    AssignmentStore,
    CommandStore,
    CommandTarget,
    DeliveryChannel,
    Dispatcher,
    ModbusChannel,
    MqttChannel,
    RefusedAck,
    RegistryLookup,
    ScheduleLibrary,
    Scheduler,
)
from duty.service import DutyService, open_duty_service
from gateway.composition.runtime import GatewayContext, ServiceSpec
from gateway.intake.directory import DirectoryChange
from gateway.intake.recorder import Recorder
from gateway.intake.records import DeadLetter
from hydrology import HazardStore, watched_by
from rules.actions import CommandTarget as RuleTarget
from rules.alerts import Alert, AlertTransition, HazardPlace
from rules.errors import CommandSinkUnavailable
from rules.loader import RuleSet
from rules.runner import RulesService
from rules.service import Announced
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import DatabaseError, DatabaseUnavailable
from streetwatch.readings import Reading

log = logging.getLogger(__name__)


REFUSED_ACK_LOG_EVERY_S = 60.0


class RefusedAcks:
    """Keeps refused command acks as dead letters (the recorder makes one row per device, reason and
    minute, with its count) and logs each device and reason once a minute at most."""

    def __init__(self, recorder: Recorder | None, clock: Clock) -> None:
        self.recorder = recorder
        self.clock = clock
        self._logged: dict[tuple[str, str], float] = {}

    def __call__(self, refused: RefusedAck) -> None:
        if self.recorder is not None:
            self.recorder.dead_letter(DeadLetter(refused.at, refused.device_id, refused.topic, refused.reason, None,
                                                 refused.detail, DeadLetter.excerpt(refused.payload)))
        key, now = (refused.device_id, refused.reason), self.clock.monotonic()
        last = self._logged.get(key)
        if last is not None and now - last < REFUSED_ACK_LOG_EVERY_S:
            return
        if len(self._logged) > 100_000:
            self._logged.clear()
        self._logged[key] = now
        log.warning("refused a command ack from %s: %s (%s)", refused.device_id, refused.reason, refused.detail,
                    extra={"device_id": refused.device_id})


class ControlService:
    """The dispatcher and the scheduler as one gateway service."""

    def __init__(self, dispatcher: Dispatcher, scheduler: Scheduler | None, mqtt: MqttChannel | None = None) -> None:
        self.dispatcher = dispatcher
        self.scheduler = scheduler
        self.mqtt = mqtt

    def collect_metrics(self) -> Iterator[Metric]:
        """Command acknowledgements over MQTT: received, confirmed, refused by reason."""
        if self.mqtt is None:
            return
        acks = self.mqtt.acks
        family = CounterMetricFamily("streetwatch_command_acks", "MQTT command acks by outcome (received, "
                                     "confirmed, or the reason it was refused)", labels=["outcome"])
        family.add_metric(["received"], acks.received)
        family.add_metric(["confirmed"], acks.confirmed)
        for reason, count in sorted(acks.refused.items()):
            family.add_metric([reason], count)
        yield family

    async def on_readings(self, batch: Sequence[Reading]) -> None:
        """Control needs no readings; it listens for online/offline changes."""

    async def on_status(self, device_id: str, online: bool, at: datetime) -> None:
        if online:
            self.dispatcher.on_device_online(device_id)
        else:
            self.dispatcher.on_device_offline(device_id)

    async def submit(self, target: RuleTarget, action: str, params: dict[str, Any], requester: str,
                     reason: str, *, request_key: str | None = None) -> None:
        """The rules engine's CommandSink: a rule's action becomes a stored, delivered command.

        While the database is away the engine keeps the action and submits it again (same key) later.
        """
        try:
            await self.dispatcher.submit(CommandTarget(target.kind, target.value), action, params, requester, reason,
                                         request_key=request_key)
        except DatabaseUnavailable as exc:
            raise CommandSinkUnavailable(str(exc)) from exc

    async def run(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.run()
        else:
            await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def open_control(ctx: GatewayContext, *, schedules: bool = True) -> AsyncIterator[ControlService]:
    settings = ctx.settings
    store = await CommandStore.open(ctx.db, ctx.clock)
    library = ScheduleLibrary.load(settings.schedules_dir)
    async with contextlib.AsyncExitStack() as stack:
        channels: dict[str, DeliveryChannel] = {"modbus": ModbusChannel(ctx.buses, ctx.clock)}
        mqtt: MqttChannel | None = None
        if ctx.mqtt is not None:  # MQTT off (--no-mqtt): commands to MQTT devices fail, nothing dials the broker
            channels["mqtt"] = mqtt = await stack.enter_async_context(
                MqttChannel(ctx.mqtt, client_id=f"{settings.mqtt.client_id}-control", clock=ctx.clock,
                            on_refused=RefusedAcks(ctx.recorder, ctx.clock)))
        dispatcher = await stack.enter_async_context(Dispatcher(
            store, RegistryLookup(ctx.registry), channels, settings=settings.control, clock=ctx.clock,
            schedules=library, zone=settings.zone))
        for entry in ctx.directory:  # offline when the gateway last stopped: hold their commands
            state = ctx.states.get(entry.id)
            if state is not None and state.online is False:
                dispatcher.on_device_offline(entry.id)
        scheduler = None
        if schedules:
            scheduler = Scheduler(dispatcher, await AssignmentStore.open(ctx.db, ctx.clock), library,
                                  zone=settings.zone, clock=ctx.clock)
        yield ControlService(dispatcher, scheduler, mqtt)


@contextlib.asynccontextmanager
async def open_rules(ctx: GatewayContext, control: ControlService | None,
                     on_announced: Announced | None = None) -> AsyncIterator[RulesService]:
    async with RulesService(ctx.db, ctx.settings, clock=ctx.clock, mqtt=ctx.mqtt, devices=ctx.directory.devices,
                            commands=control, handle_sighup=True, on_announced=on_announced,
                            flag_sink=ctx.store) as rules, \
            asyncio.TaskGroup() as tasks:
        places = HazardPlaces(ctx, rules)
        await places.refresh()
        refreshing: list[asyncio.Task[None]] = []

        def devices_changed(_change: DirectoryChange) -> None:
            rules.update_devices(ctx.directory.devices)
            # A gauge tagged to a hazard point (or untagged): its alerts name the point from now on.
            refreshing[:] = [t for t in refreshing if not t.done()]
            refreshing.append(tasks.create_task(places.refresh(), name="rules-hazard-places"))

        ctx.directory.on_change(devices_changed)
        yield rules


class HazardPlaces:
    """Tells the rules which hazard point each device watches (``hazard=<id>`` tags, ``hazard_points``)."""

    def __init__(self, ctx: GatewayContext, rules: RulesService) -> None:
        self._ctx = ctx
        self._rules = rules
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            try:
                points = await HazardStore(self._ctx.db).list()
            except DatabaseError as exc:
                log.warning("hazard points cannot be read (%s); alerts name the gauges only", exc)
                return
            watched = watched_by(points, self._ctx.directory.devices.values())
            self._rules.update_places({device_id: HazardPlace(p.id, p.name, p.landmark)
                                       for device_id, p in watched.items()})


def default_services(*, schedules: bool = True, on_announced: Announced | None = None,
                     rules_holder: dict[str, RulesService] | None = None) -> list[ServiceSpec]:
    """Control first (rules hand it their actions), then rules (kept in ``rules_holder`` once open)."""
    holder: dict[str, ControlService] = {}
    opened_rules = rules_holder if rules_holder is not None else {}

    @contextlib.asynccontextmanager
    async def control(ctx: GatewayContext) -> AsyncIterator[ControlService]:
        async with open_control(ctx, schedules=schedules) as service:
            holder["control"] = service
            yield service

    @contextlib.asynccontextmanager
    async def rules(ctx: GatewayContext) -> AsyncIterator[RulesService]:
        async with open_rules(ctx, holder.get("control"), on_announced) as service:
            opened_rules["rules"] = service
            yield service

    return [ServiceSpec("control", control), ServiceSpec("rules", rules)]


def open_duty(ctx: GatewayContext, rules: dict[str, RulesService] | None = None
              ) -> contextlib.AbstractAsyncContextManager[DutyService]:
    """The duty service; with the rules service (once open) it carries out rules' ``dispatch_task`` actions."""
    def rules_of() -> RuleSet | None:
        service = (rules or {}).get("rules")
        return service.ruleset if service is not None else None

    return open_duty_service(ctx.settings, ctx.db, ctx.registry, ctx.clock, rules_of)


def composed_services(settings: Settings) -> list[ServiceSpec]:
    """The services ``streetwatch run`` composes beside the intake and the store path."""
    if settings.duty.duty_dir is None:
        return default_services()
    duty: dict[str, DutyService] = {}
    rules: dict[str, RulesService] = {}

    def announced(_transition: AlertTransition | None, _alert: Alert) -> None:
        # An alert was stored and announced: escalate now rather than at the next tick.
        if "duty" in duty:
            duty["duty"].wake()

    @contextlib.asynccontextmanager
    async def opened(ctx: GatewayContext) -> AsyncIterator[DutyService]:
        async with open_duty(ctx, rules) as service:
            duty["duty"] = service
            yield service

    return [*default_services(on_announced=announced, rules_holder=rules), ServiceSpec("duty", opened)]
