"""The services `streetwatch run` composes beside the intake: the rules engine and remote control.

    control   the command dispatcher (Modbus: write and read back over the gateway's one bus pool,
              shared with the poller; MQTT: cmd and cmd/ack) and the lighting scheduler; told when
              devices go offline and come back
    rules     the rules engine with the alert store and notifications; its actions go to control
    duty      escalation of raised alerts to the people on duty, and the notification outbox
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
from rules.actions import CommandTarget as RuleTarget
from rules.alerts import Alert, AlertTransition
from rules.errors import CommandSinkUnavailable
from rules.runner import RulesService
from rules.service import Announced
from streetwatch.clock import Clock
from streetwatch.config import Settings
from streetwatch.database import DatabaseUnavailable
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
                            commands=control, handle_sighup=True, on_announced=on_announced) as rules:
        def devices_changed(_change: DirectoryChange) -> None:
            rules.update_devices(ctx.directory.devices)

        ctx.directory.on_change(devices_changed)
        yield rules


def default_services(*, schedules: bool = True, on_announced: Announced | None = None) -> list[ServiceSpec]:
    """Control first (rules hand it their actions), then rules."""
    holder: dict[str, ControlService] = {}

    @contextlib.asynccontextmanager
    async def control(ctx: GatewayContext) -> AsyncIterator[ControlService]:
        async with open_control(ctx, schedules=schedules) as service:
            holder["control"] = service
            yield service

    def rules(ctx: GatewayContext) -> contextlib.AbstractAsyncContextManager[RulesService]:
        return open_rules(ctx, holder.get("control"), on_announced)

    return [ServiceSpec("control", control), ServiceSpec("rules", rules)]


def open_duty(ctx: GatewayContext) -> contextlib.AbstractAsyncContextManager[DutyService]:
    return open_duty_service(ctx.settings, ctx.db, ctx.registry, ctx.clock)


def composed_services(settings: Settings) -> list[ServiceSpec]:
    """The services ``streetwatch run`` composes beside the intake and the store path."""
    if settings.duty.duty_dir is None:
        return default_services()
    duty: dict[str, DutyService] = {}

    def announced(_transition: AlertTransition | None, _alert: Alert) -> None:
        # An alert was stored and announced: escalate now rather than at the next tick.
        if "duty" in duty:
            duty["duty"].wake()

    @contextlib.asynccontextmanager
    async def opened(ctx: GatewayContext) -> AsyncIterator[DutyService]:
        async with open_duty(ctx) as service:
            duty["duty"] = service
            yield service

    return [*default_services(on_announced=announced), ServiceSpec("duty", opened)]
