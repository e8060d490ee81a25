"""A Modbus server whose register image is set by metric values through a device profile.

Many unit ids behind one port (a TCP gateway or a serial-to-Ethernet converter), or one serial
line (RTU on a pty from ``socat``). Tests, the interoperability test with ``mbpoll``, the benchmark
and the device simulators build on it:

- ``server.set_value(unit, "power_w", 42.5)`` encodes with the profile's codec into the image;
  ``server.get_value(unit, "dim_level_pct")`` decodes what a client wrote;
- ``on_write`` hooks see every accepted write (a lamp simulator reacts to a new dim level);
- :class:`Fault` per unit: no answer, a Modbus exception, a dropped connection, a late reply,
  garbage bytes; for the next ``times`` requests or until cleared.

>>> from device_registry.profile import shipped_profiles
>>> server = ModbusSimServer({1: shipped_profiles()["sw-lamp-controller"]})
>>> server.set_value(1, "supply_voltage_v", 231.4)
>>> server.get_registers(1, "input", 0, 1)
[2314]

``async with server:`` listens (``port=0`` picks a free port: ``server.port``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimData, SimDevice
from pymodbus.transaction import TransactionManager

from device_drivers.modbus.codec import decode_metric, encode_metric
from device_registry.profile import ModbusMetric, Profile, RegisterTable

log = logging.getLogger(__name__)

ServerKind = Literal["tcp", "rtu-over-tcp", "rtu"]
_TABLE_OF_FUNCTION: dict[int, RegisterTable] = {
    1: RegisterTable.coil, 5: RegisterTable.coil, 15: RegisterTable.coil,
    2: RegisterTable.discrete,
    3: RegisterTable.holding, 6: RegisterTable.holding, 16: RegisterTable.holding,
    22: RegisterTable.holding, 23: RegisterTable.holding,
    4: RegisterTable.input,
}


@dataclass(frozen=True, slots=True)
class Fault:
    """What a unit does instead of answering normally.

    ``kind``: ``no_answer`` (stays silent), ``exception`` (answers Modbus exception ``code``),
    ``drop`` (closes the TCP connection), ``delay`` (answers correctly after ``delay_s``),
    ``garbage`` (sends ``garbage`` bytes instead of an answer). ``times``: for that many requests,
    then the unit behaves again (None: until cleared).
    """

    kind: Literal["no_answer", "exception", "drop", "delay", "garbage"]
    code: int = ExcCodes.DEVICE_FAILURE
    delay_s: float = 0.0
    garbage: bytes = b"\x55\xaa\x00\xff\x13\x37"
    times: int | None = None


@dataclass(frozen=True, slots=True)
class WriteEvent:
    """An accepted write: the raw registers or bits, and the metrics it changed, decoded."""

    unit: int
    table: RegisterTable
    address: int
    values: tuple[int, ...] | tuple[bool, ...]
    metrics: Mapping[str, float]


@dataclass
class _Unit:
    profile: Profile
    tables: dict[RegisterTable, dict[int, int]] = field(default_factory=lambda: {t: {} for t in RegisterTable})
    fault: Fault | None = None
    fault_left: int | None = None
    requests: int = 0

    def take_fault(self) -> Fault | None:
        fault = self.fault
        if fault is None:
            return None
        if self.fault_left is not None:
            self.fault_left -= 1
            if self.fault_left <= 0:
                self.fault = self.fault_left = None
        return fault


class ModbusSimServer:
    """A profile-driven Modbus server (pymodbus server API) for many unit ids."""

    def __init__(self, units: Mapping[int, Profile], *, kind: ServerKind = "tcp", host: str = "127.0.0.1",
                 port: int = 0, serial_port: str = "", baudrate: int = 9600,
                 strict_addresses: bool = False) -> None:
        """``strict_addresses``: answer "illegal data address" to registers no metric maps, as many devices do."""
        if kind == "rtu" and not serial_port:
            raise ValueError("an RTU server needs serial_port (e.g. one end of a socat pty pair)")
        self.kind = kind
        self.host = host
        self._requested_port = port
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.strict_addresses = strict_addresses
        self._units: dict[int, _Unit] = {}
        for unit, profile in units.items():
            self.add_unit(unit, profile)
        self._write_hooks: list[Callable[[WriteEvent], None]] = []
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = port
        self.request_times: deque[float] = deque(maxlen=10_000)  # monotonic arrival of each request
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0

    # -- the register image -----------------------------------------------------------------------

    def add_unit(self, unit: int, profile: Profile) -> None:
        if profile.modbus is None:
            raise ValueError(f"profile {profile.name} has no [modbus] section")
        self._units[unit] = _Unit(profile)

    @property
    def units(self) -> list[int]:
        return sorted(self._units)

    def _unit(self, unit: int) -> _Unit:
        try:
            return self._units[unit]
        except KeyError:
            raise KeyError(f"no unit {unit} on this server (units: {self.units})") from None

    def _metric(self, unit: int, name: str) -> tuple[_Unit, ModbusMetric]:
        state = self._unit(unit)
        assert state.profile.modbus is not None
        for metric in state.profile.modbus.metrics:
            if metric.name == name:
                return state, metric
        raise KeyError(f"profile {state.profile.name} has no Modbus metric {name!r}")

    def set_value(self, unit: int, metric: str, value: float) -> None:
        """Put a metric's value (in its unit) into the image, encoded as the profile says."""
        state, m = self._metric(unit, metric)
        assert state.profile.modbus is not None
        encoded = encode_metric(m, value, state.profile.modbus)
        table = state.tables[m.table]
        for i, v in enumerate(encoded):
            table[m.address + i] = int(v)

    def get_value(self, unit: int, metric: str) -> float:
        """A metric's value as the image holds it now (e.g. after a client wrote it)."""
        state, m = self._metric(unit, metric)
        assert state.profile.modbus is not None
        table = state.tables[m.table]
        raw = [table.get(m.address + i, 0) for i in range(m.register_count)]
        return decode_metric(m, [bool(v) for v in raw] if m.table.is_bits else raw, state.profile.modbus)

    def set_registers(self, unit: int, table: str | RegisterTable, address: int, values: Sequence[int]) -> None:
        image = self._unit(unit).tables[RegisterTable(table)]
        for i, v in enumerate(values):
            image[address + i] = int(v)

    def get_registers(self, unit: int, table: str | RegisterTable, address: int, count: int) -> list[int]:
        image = self._unit(unit).tables[RegisterTable(table)]
        return [image.get(address + i, 0) for i in range(count)]

    def on_write(self, hook: Callable[[WriteEvent], None]) -> None:
        """Call ``hook`` after every accepted write (it may change the image, e.g. clamp a value)."""
        self._write_hooks.append(hook)

    def set_fault(self, unit: int, fault: Fault | None) -> None:
        """Make ``unit`` misbehave (None: behave again)."""
        state = self._unit(unit)
        state.fault = fault
        state.fault_left = fault.times if fault is not None else None

    def request_count(self, unit: int) -> int:
        """Requests this unit has received (answered or not)."""
        return self._unit(unit).requests

    # -- what the pymodbus request PDUs call ------------------------------------------------------

    def _mapped(self, state: _Unit, table: RegisterTable, address: int, count: int) -> bool:
        assert state.profile.modbus is not None
        covered: set[int] = set()
        for m in state.profile.modbus.metrics:
            if m.table is table:
                covered.update(range(m.address, m.end))
        sched = state.profile.modbus.schedule_table
        if sched is not None and table is RegisterTable.holding:
            covered.update(range(sched.address, sched.address + 2 * sched.slots))
            covered.add(sched.count_address)
        return all(a in covered for a in range(address, address + count))

    async def async_getValues(self, device_id: int, func_code: int, address: int,
                              count: int = 1) -> list[int] | list[bool] | ExcCodes:
        state = self._units.get(device_id)
        table = _TABLE_OF_FUNCTION.get(func_code)
        if state is None or table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if address + count > 65536 or (self.strict_addresses and not self._mapped(state, table, address, count)):
            return ExcCodes.ILLEGAL_ADDRESS
        image = state.tables[table]
        if table.is_bits:
            return [bool(image.get(address + i, 0)) for i in range(count)]
        return [image.get(address + i, 0) for i in range(count)]

    async def async_setValues(self, device_id: int, func_code: int, address: int,
                              values: Sequence[int] | Sequence[bool]) -> ExcCodes | None:
        state = self._units.get(device_id)
        table = _TABLE_OF_FUNCTION.get(func_code)
        if state is None or table is None or table in (RegisterTable.input, RegisterTable.discrete):
            return ExcCodes.ILLEGAL_FUNCTION
        assert state.profile.modbus is not None
        written = range(address, address + len(values))
        touched = [m for m in state.profile.modbus.metrics
                   if m.table is table and m.address < written.stop and written.start < m.end]
        if any(not m.writable for m in touched):
            return ExcCodes.ILLEGAL_ADDRESS
        if self.strict_addresses and not self._mapped(state, table, address, len(values)):
            return ExcCodes.ILLEGAL_ADDRESS
        image = state.tables[table]
        for i, v in enumerate(values):
            image[address + i] = int(v)
        event = WriteEvent(device_id, table, address, tuple(values),
                           {m.name: self.get_value(device_id, m.name) for m in touched})
        for hook in self._write_hooks:
            hook(event)
        return None

    def device_ids(self) -> list[int]:
        return self.units

    # -- answering, with faults -------------------------------------------------------------------

    async def answer(self, handler: _Handler, pdu: ModbusPDU, addr: tuple[Any, ...] | None) -> None:
        state = self._units.get(pdu.dev_id)
        if state is None:
            if self.kind == "tcp":  # a TCP gateway answers for a unit it cannot reach
                handler.send_pdu(pdu, ExceptionResponse(pdu.function_code, ExcCodes.GATEWAY_NO_RESPONSE), addr)
            return  # on a serial line an absent unit is silent
        state.requests += 1
        self.request_times.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._answer(state, handler, pdu, addr)
        finally:
            self.in_flight -= 1

    async def _answer(self, state: _Unit, handler: _Handler, pdu: ModbusPDU, addr: tuple[Any, ...] | None) -> None:
        fault = state.take_fault()
        if fault is not None:
            if fault.kind == "no_answer":
                return
            if fault.kind == "exception":
                handler.send_pdu(pdu, ExceptionResponse(pdu.function_code, fault.code), addr)
                return
            if fault.kind == "drop":
                if self.kind != "rtu":
                    handler.drop()
                return
            if fault.kind == "garbage":
                handler.send_raw(fault.garbage)
                return
            await asyncio.sleep(fault.delay_s)  # "delay": a slow device, answering late
        try:
            response = await pdu.datastore_update(self, pdu.dev_id)  # type: ignore[arg-type]
        except Exception:  # a device answers "device failure" rather than going silent
            log.exception("unit %s could not handle %s", pdu.dev_id, pdu)
            response = ExceptionResponse(pdu.function_code, ExcCodes.DEVICE_FAILURE)
        handler.send_pdu(pdu, response, addr)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        placeholder = [SimDevice(0, simdata=[SimData(0)])]  # pymodbus wants one; we answer ourselves
        server: ModbusTcpServer | ModbusSerialServer
        if self.kind == "rtu":
            server = _SerialServer(placeholder, framer=FramerType.RTU, port=self.serial_port,
                                   baudrate=self.baudrate)
        else:
            framer = FramerType.RTU if self.kind == "rtu-over-tcp" else FramerType.SOCKET
            server = _TcpServer(placeholder, framer=framer, address=(self.host, self._requested_port))
        server.sim = self
        await server.serve_forever(background=True)
        self._server = server
        if self.kind != "rtu":
            self.port = int(server.transport.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        server, self._server = self._server, None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def restart(self) -> None:
        """Stop listening and start again on the same port: a power-cycled device (the image survives)."""
        await self.__aexit__(None, None, None)
        self._requested_port = self.port
        await self.__aenter__()

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}" if self.kind != "rtu" else self.serial_port


class _Handler(ServerRequestHandler):
    """One connection. Unlike pymodbus' own handler it keeps each request with its answer, so a
    delayed answer carries its own transaction id (as a real device's would), not the next one's."""

    server: _TcpServer | _SerialServer

    def callback_data(self, data: bytes, addr: tuple[Any, ...] | None = None) -> int:
        try:
            used_len = int(TransactionManager.callback_data(self, data, addr))
        except ModbusIOException as exc:
            self.send_pdu(None, ExceptionResponse(exc.fcode or 0, ExcCodes.ILLEGAL_FUNCTION,
                                                  device_id=exc.dev_id, transaction=exc.transaction_id), addr)
            return len(data)
        pdu, self.last_pdu = self.last_pdu, None
        if pdu is not None:
            sim: ModbusSimServer = self.server.sim
            # The server's own task set, used from its protocol object: one package, one owner.
            sim._spawn(sim.answer(self, pdu, addr), name=f"modbus-sim-unit-{pdu.dev_id}")  # noqa: SLF001
        return used_len

    def send_pdu(self, request: ModbusPDU | None, response: ModbusPDU, addr: tuple[Any, ...] | None) -> None:
        if request is not None:
            response.transaction_id = request.transaction_id
            response.dev_id = request.dev_id
        if self.transport is not None:
            self.pdu_send(response, addr=addr)

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None:
            self.send(data)

    def drop(self) -> None:
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()


class _TcpServer(ModbusTcpServer):
    sim: ModbusSimServer

    def callback_new_connection(self) -> _Handler:
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)  # type: ignore[no-untyped-call]


class _SerialServer(ModbusSerialServer):
    sim: ModbusSimServer

    def callback_new_connection(self) -> _Handler:
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)  # type: ignore[no-untyped-call]


def random_garbage(size: int = 16) -> bytes:
    """Bytes to throw on a line (``Fault("garbage", garbage=random_garbage())``)."""
    return os.urandom(size)
