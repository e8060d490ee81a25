"""Simulated devices behind the profile-driven Modbus server: lamp controllers, gauges, probes.

:class:`DeviceServer` is a :class:`~simulators.modbus_server.ModbusSimServer` whose units are
simulated devices. For every request it

* brings the unit's register image up to date from the device's model (at most every
  ``refresh_s``), so an idle fleet of thousands costs nothing and a reading is always fresh;
* applies the scenario's comms faults for that instant (no answer, a Modbus exception, a dropped
  connection, a late answer); a device that is silent (a gauge's dead battery) does not answer;
* hands every accepted write to the device (a new dim level, a relay switch, a schedule); a value
  the device refuses is undone and answered with exception 3, *illegal data value*, as a real
  controller does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU

from device_drivers.modbus.codec import encode_metric
from device_registry.profile import Profile, RegisterTable
from simulators.faults import FaultKind, FaultWindow
from simulators.modbus_server import Fault, ModbusSimServer, ServerKind, WriteEvent
from streetwatch.clock import Clock, SystemClock

log = logging.getLogger(__name__)

_WRITE_TABLE: dict[int, RegisterTable] = {
    5: RegisterTable.coil, 15: RegisterTable.coil,
    6: RegisterTable.holding, 16: RegisterTable.holding, 22: RegisterTable.holding, 23: RegisterTable.holding,
}


class ModbusDevice(Protocol):
    device_id: str
    comms_faults: dict[FaultKind, FaultWindow]

    def registers(self, now: datetime) -> dict[str, float] | None:
        """The profile's metrics now, or None when the device does not answer."""
        ...

    def write(self, metric: str, value: float, now: datetime) -> None:
        """Take a written metric; ValueError when the device refuses the value."""
        ...


def comms_fault(kind: FaultKind, delay_s: float) -> Fault:
    """The server's fault for a scenario's comms fault."""
    if kind is FaultKind.exception:
        return Fault("exception", code=ExcCodes.DEVICE_FAILURE)
    if kind is FaultKind.delay:
        return Fault("delay", delay_s=delay_s)
    if kind is FaultKind.drop:
        return Fault("drop")
    return Fault("no_answer")


class DeviceServer(ModbusSimServer):
    """One endpoint (a TCP port or a serial line) with simulated devices as its units."""

    def __init__(self, devices: Mapping[int, tuple[Profile, ModbusDevice]], *, origin: datetime | None,
                 clock: Clock | None = None, kind: ServerKind = "tcp", host: str = "127.0.0.1", port: int = 0,
                 serial_port: str = "", baudrate: int = 9600, refresh_s: float = 0.2,
                 delay_s: float = 2.0) -> None:
        super().__init__({unit: profile for unit, (profile, _) in devices.items()}, kind=kind, host=host,
                         port=port, serial_port=serial_port, baudrate=baudrate)
        self.clock = clock or SystemClock()
        self.origin = origin
        self.refresh_s = refresh_s
        self.delay_s = delay_s
        self.devices = {unit: device for unit, (_, device) in devices.items()}
        self._profiles = {unit: profile for unit, (profile, _) in devices.items()}
        self._metrics = {profile.name: {m.name: m for m in profile.modbus.metrics}
                         for profile, _ in devices.values() if profile.modbus is not None}
        self._written: dict[int, dict[str, float]] = {}  # what refresh last put in each unit's image
        self._faults: dict[int, Fault | None] = {}
        self._refreshed_at: dict[int, float] = {}
        self._silent: set[int] = set()
        self._refusals: list[str] = []  # why the device refused the write being handled
        self.refused_writes = 0
        self.on_write(self._take_write)

    # --- keeping the image in step with the models ---------------------------------------------------
    def refresh(self, unit: int, *, force: bool = False) -> None:
        """Copy the device's metrics into the register image (rate-limited unless ``force``)."""
        device = self.devices[unit]
        monotonic = self.clock.monotonic()
        if not force and monotonic - self._refreshed_at.get(unit, -math.inf) < self.refresh_s:
            return
        self._refreshed_at[unit] = monotonic
        values = device.registers(self.clock.now())
        if values is None:
            self._silent.add(unit)
            return
        self._silent.discard(unit)
        profile = self._profiles[unit]
        metrics = self._metrics[profile.name]
        spec = profile.modbus
        assert spec is not None
        written = self._written.setdefault(unit, {})
        for name, value in values.items():
            if written.get(name) == value:
                continue  # encoding is most of a refresh's cost; most registers have not changed
            metric = metrics[name]
            self.set_registers(unit, metric.table, metric.address, encode_metric(metric, value, spec))
            written[name] = value

    def _fault_now(self, unit: int) -> Fault | None:
        if unit in self._silent:
            return Fault("no_answer")
        device = self.devices[unit]
        if not device.comms_faults or self.origin is None:
            return None
        elapsed_s = (self.clock.now() - self.origin).total_seconds()
        for kind, window in device.comms_faults.items():
            if window.active(elapsed_s):
                return comms_fault(kind, self.delay_s)
        return None

    async def answer(self, handler: Any, pdu: ModbusPDU, addr: tuple[Any, ...] | None) -> None:
        unit = pdu.dev_id
        if unit in self.devices:
            self.refresh(unit)
            fault = self._fault_now(unit)
            if self._faults.get(unit) != fault:
                self._faults[unit] = fault
                self.set_fault(unit, fault)
        await super().answer(handler, pdu, addr)

    # --- writes --------------------------------------------------------------------------------------
    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        table = _WRITE_TABLE.get(func_code)
        if device_id not in self.devices or table is None:
            return await super().async_setValues(device_id, func_code, address, values)
        before = self.get_registers(device_id, table, address, len(values))
        self._refusals.clear()
        result = await super().async_setValues(device_id, func_code, address, values)  # calls _take_write
        if result is None and self._refusals:
            self.set_registers(device_id, table, address, before)
            self.refused_writes += 1
            log.info("%s refused a write at %s %s: %s", self.devices[device_id].device_id, table.value, address,
                     self._refusals[0])
            return ExcCodes.ILLEGAL_VALUE
        return result

    def _take_write(self, event: WriteEvent) -> None:
        device = self.devices.get(event.unit)
        if device is None:
            return
        self._written.pop(event.unit, None)  # a client changed the image: rewrite all of it
        now = self.clock.now()
        try:
            for metric, value in event.metrics.items():
                device.write(metric, value, now)
            self._take_schedule(event, device, now)
        except ValueError as exc:
            self._refusals.append(str(exc))
            return
        self.refresh(event.unit, force=True)

    def _take_schedule(self, event: WriteEvent, device: ModbusDevice, now: datetime) -> None:
        modbus = self._profiles[event.unit].modbus
        table = modbus.schedule_table if modbus is not None else None
        if table is None or event.table is not RegisterTable.holding:
            return
        written = range(event.address, event.address + len(event.values))
        region = range(table.address, table.address + 2 * table.slots)
        if table.count_address not in written and not (written.start < region.stop and region.start < written.stop):
            return
        (count,) = self.get_registers(event.unit, RegisterTable.holding, table.count_address, 1)
        if count > table.slots:
            raise ValueError(f"schedule count {count} exceeds the {table.slots} slots")
        raw = self.get_registers(event.unit, RegisterTable.holding, table.address, 2 * count)
        write_schedule = getattr(device, "write_schedule", None)
        if write_schedule is None:
            raise ValueError("this device has no schedule")
        write_schedule([(raw[2 * i], raw[2 * i + 1]) for i in range(count)], now)
