"""A running fleet: every device of a scenario, reachable the way real ones are, in one process.

``async with Fleet(scenario, mqtt_url=…) as fleet`` plans the devices, opens a Modbus server per
endpoint (many unit ids behind each TCP port; a socat pty pair per serial line), connects the MQTT
devices, and keeps them all running until the block ends. ``fleet.registered`` are the devices as
the registry holds them (with the real ports and pty paths); ``fleet.write_csv(path)`` writes
them for ``streetwatch device import``.

The demo drives a fleet in-process::

    async with Fleet(Scenario.demo(), mqtt_url=url) as fleet:
        rain_starts = fleet.at(fleet.scenario.rainfall.events[0].start_s)
        level = fleet.gauges["CG-001"].true_level_mm(clock.now())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from device_registry.device import Device, Transport
from device_registry.profile import Profile, shipped_profiles
from simulators.devices import SimGauge, SimLamp, SimProbe
from simulators.errors import SimulatorError
from simulators.faults import FaultKind, FaultWindow, Target
from simulators.gauge import GaugeFault
from simulators.lamp import LampFault
from simulators.modbus_devices import DeviceServer, ModbusDevice
from simulators.modbus_server import ServerKind
from simulators.mqtt_fleet import MqttFleet, TelemetryDevice
from simulators.plan import Endpoint, FleetPlan, plan_fleet
from simulators.registration import BoundEndpoint, registered_devices, write_csv
from simulators.scenario import Scenario
from simulators.serial_line import SerialLine
from streetwatch.clock import Clock, SystemClock
from streetwatch.mqtt import MqttSetupError, MqttTransport

log = logging.getLogger(__name__)
MAX_ENDPOINT_LINES = 4  # per kind of device; the rest is summed up

_SERVER_KIND: dict[Transport, ServerKind] = {
    Transport.modbus_tcp: "tcp", Transport.modbus_rtu_over_tcp: "rtu-over-tcp", Transport.modbus_rtu: "rtu",
}


class Fleet:
    """Every device of ``scenario``, running while the ``async with`` block lasts."""

    def __init__(self, scenario: Scenario, *, mqtt_url: str | None = None, mqtt: MqttTransport | None = None,
                 clock: Clock | None = None,
                 origin: datetime | None = None, lamp_initial_dim_pct: int = 60, refresh_s: float = 0.2,
                 client_prefix: str = "sim", passwords: Mapping[str, str] | None = None) -> None:
        self.scenario = scenario
        self.passwords = passwords  # MQTT devices' own broker passwords by id (each then logs in as itself)
        self.plan: FleetPlan = plan_fleet(scenario)
        if scenario.uses_mqtt and not (mqtt_url or mqtt):
            raise SimulatorError("MQTT gauges or probes need a broker: give an MQTT URL (--mqtt-url)")
        try:
            self.transport = mqtt or (MqttTransport.from_url(mqtt_url) if mqtt_url else None)
        except MqttSetupError as exc:
            raise SimulatorError(str(exc)) from None
        self.clock = clock or SystemClock()
        self.origin = origin
        self.lamp_initial_dim_pct = lamp_initial_dim_pct
        self.refresh_s = refresh_s
        self.client_prefix = client_prefix
        self.lamps: dict[str, SimLamp] = {}
        self.gauges: dict[str, SimGauge] = {}
        self.probes: dict[str, SimProbe] = {}
        self.servers: list[DeviceServer] = []
        self.mqtt: MqttFleet | None = None
        self.bound: dict[int, BoundEndpoint] = {}
        self._stack: contextlib.AsyncExitStack | None = None

    # --- lifecycle ------------------------------------------------------------------------------------
    async def __aenter__(self) -> Fleet:
        origin = self.origin = self.origin or self.clock.now()
        scenario = self.scenario
        for planned in self.plan.of(Target.lamp):
            self.lamps[planned.id] = SimLamp(planned, scenario, origin, self.lamp_initial_dim_pct)
        for i, planned in enumerate(self.plan.of(Target.gauge)):
            self.gauges[planned.id] = SimGauge(planned, scenario, origin, reference=i == 0)
        for planned in self.plan.of(Target.probe):
            self.probes[planned.id] = SimProbe(planned, scenario, origin)
        async with contextlib.AsyncExitStack() as stack:
            profiles = shipped_profiles()
            for endpoint in self.plan.endpoints:
                await self._open_endpoint(stack, endpoint, profiles)
            mqtt_devices = self._mqtt_devices()
            if mqtt_devices:
                assert self.transport is not None
                self.mqtt = await stack.enter_async_context(MqttFleet(
                    mqtt_devices, self.transport, clock=self.clock, per_device_clients=scenario.per_device_clients,
                    devices_per_client=scenario.devices_per_client, client_prefix=self.client_prefix,
                    passwords=self.passwords))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _open_endpoint(self, stack: contextlib.AsyncExitStack, endpoint: Endpoint,
                             profiles: dict[str, Profile]) -> None:
        units: dict[int, tuple[Profile, ModbusDevice]] = {}
        for planned in self.plan.on_endpoint(endpoint.index):
            units[planned.unit] = (profiles[planned.profile], self._device(planned.id))
        kind = _SERVER_KIND[endpoint.transport]
        serial_end = client_end = ""
        if kind == "rtu":
            line = await stack.enter_async_context(SerialLine(f"line{endpoint.index}"))
            serial_end, client_end = line.device_end, line.client_end
        server = DeviceServer(units, kind=kind, host=self.scenario.host, port=endpoint.port, serial_port=serial_end,
                              origin=self.origin, clock=self.clock, refresh_s=self.refresh_s)
        try:
            await stack.enter_async_context(server)
        except (OSError, RuntimeError) as exc:  # pymodbus says RuntimeError when it cannot listen
            where = server.serial_port or f"{server.host}:{endpoint.port}"
            reason = getattr(exc, "strerror", None) or "is the port in use?"
            raise SimulatorError(f"cannot listen on {where} for the {endpoint.role.value}s ({reason})") from None
        self.servers.append(server)
        self.bound[endpoint.index] = BoundEndpoint(serial_port=client_end, baudrate=server.baudrate) if client_end \
            else BoundEndpoint(host=server.host, port=server.port)

    def _device(self, device_id: str) -> SimLamp | SimGauge | SimProbe:
        return self.lamps.get(device_id) or self.gauges.get(device_id) or self.probes[device_id]

    def _mqtt_devices(self) -> list[TelemetryDevice]:
        mqtt_ids = [d.id for d in self.plan.devices if d.transport is Transport.mqtt]
        devices: list[TelemetryDevice] = []
        for device_id in mqtt_ids:
            device = self._device(device_id)
            assert not isinstance(device, SimLamp)
            devices.append(device)
        return devices

    async def run(self, duration_s: float | None = None, *, stop: asyncio.Event | None = None) -> None:
        """Keep running for ``duration_s`` (None: until cancelled) or until ``stop`` is set; a failing
        MQTT fleet ends it."""
        waits: list[asyncio.Future[Any]] = []
        if stop is not None:
            waits.append(asyncio.create_task(stop.wait(), name="fleet-stop"))
        if self.mqtt is not None:
            waits.append(asyncio.create_task(self.mqtt.wait(), name="fleet-mqtt"))
        if duration_s is not None:
            waits.append(asyncio.create_task(asyncio.sleep(duration_s), name="fleet-duration"))
        else:
            waits.append(asyncio.get_running_loop().create_future())  # until cancelled
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in waits:
                task.cancel()
            await asyncio.wait(waits)

    # --- what the fleet offers --------------------------------------------------------------------------
    @property
    def registered(self) -> list[Device]:
        """The devices as the registry would hold them, with the real ports and serial paths."""
        return registered_devices(self.plan, self.bound)

    def write_csv(self, path: Path) -> int:
        return write_csv(self.registered, path)

    def at(self, offset_s: float) -> datetime:
        """The wall-clock time of an offset in the scenario (e.g. when the rain starts)."""
        if self.origin is None:
            raise SimulatorError("the fleet has not started yet")
        return self.origin + timedelta(seconds=offset_s)

    def elapsed_s(self) -> float:
        return (self.clock.now() - self.at(0)).total_seconds()

    def inject(self, device_id: str, kind: FaultKind, *, duration_s: float | None = None) -> None:
        """Give a running device a fault from now (for ``duration_s``, or for good)."""
        start = self.elapsed_s()
        window = FaultWindow(start, start + duration_s if duration_s is not None else float("inf"))
        device = self._device(device_id)
        if kind.is_comms:
            device.comms_faults[kind] = window
        elif isinstance(device, SimLamp) and kind.value in LampFault.__members__:
            device.controller.faults[LampFault(kind.value)] = window
        elif isinstance(device, SimGauge) and kind.value in GaugeFault.__members__:
            device.model.faults[GaugeFault(kind.value)] = window
        else:
            raise SimulatorError(f"{device_id}: a {kind.value} fault cannot be injected into this device")

    def describe(self) -> Iterator[str]:
        """What runs where, one line each."""
        shown: dict[Target, int] = {}
        for endpoint in self.plan.endpoints:
            role = endpoint.role
            shown[role] = shown.get(role, 0) + 1
            total = sum(1 for e in self.plan.endpoints if e.role is role)
            if shown[role] > MAX_ENDPOINT_LINES and total > MAX_ENDPOINT_LINES + 1:
                if shown[role] == MAX_ENDPOINT_LINES + 1:
                    yield f"… and {total - MAX_ENDPOINT_LINES} more {role.value} endpoint(s) (see --csv)"
                continue
            devices = self.plan.on_endpoint(endpoint.index)
            bound = self.bound.get(endpoint.index)
            where = (bound.serial_port or f"{bound.host}:{bound.port}") if bound else "(not started)"
            yield (f"{len(devices)} {role.value}(s) {devices[0].id}..{devices[-1].id} on {where} "
                   f"({endpoint.transport.value}, units {devices[0].unit}-{devices[-1].unit})")
        if self.mqtt is not None and self.transport is not None:
            mode = "one client each" if self.scenario.per_device_clients else \
                f"{self.scenario.devices_per_client} per client"
            yield (f"{len(self.mqtt.devices)} MQTT device(s) on {self.transport.where} "
                   f"({mode})")
        if self.scenario.rainfall.events:
            yield f"rain: {self.scenario.rainfall.describe()}"
        for spec in self.scenario.faults:
            hit = [d.id for d in self.plan.devices if d.fault(spec.kind) == spec.window]
            yield f"fault {spec.describe()}: {', '.join(hit[:8])}{' …' if len(hit) > 8 else ''}"
