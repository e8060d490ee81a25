"""One physical Modbus bus: one pymodbus async client, one request at a time, errors converted here.

A serial line, or a serial-to-Ethernet converter with many unit ids behind it, carries one
request at a time with a pause between frames; a plain Modbus TCP device takes one request at a
time per connection too. :class:`ModbusBus` owns the client and an :class:`asyncio.Lock`, so
devices on one bus take turns while devices on different buses are read concurrently.

Field devices misbehave; what the bus does about it:

- **no answer**: each request has its own timeout (:class:`DeviceTimeout`); the connection stays.
- **a late answer** after a timeout must not be taken for the answer to the next request. Modbus
  TCP matches answers by transaction id (pymodbus skips a frame with another id). RTU frames carry
  no id: after a timeout the bus keeps quiet for ``quiet_after_timeout_s`` (a late frame arriving
  then finds no request waiting and is dropped), an RTU-over-TCP bus also drops its connection,
  and every answer is checked against its request (function, length, address):
  :class:`StaleResponse` otherwise.
- **a dropped connection** fails the request in flight at once (:class:`ConnectionFailed`); the
  next request connects again. There is no background reconnect loop: the caller's poll is it.
- **garbage or a bad CRC** on a serial line: bytes arrived but no valid frame by the timeout
  (:class:`FramingError`).
- **a malformed reply**: a frame pymodbus cannot decode (a byte count larger than the data) fails
  the request at once, and a TCP frame cut short of its declared length fails it at the timeout
  (:class:`MalformedReply`, never "no answer"). pymodbus decodes inside the transport's
  ``data_received``, where an exception becomes asyncio's "Fatal error" traceback on stderr and a
  silently dropped connection; the bus wraps that one call so it never raises there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from device_drivers.errors import (
    ConnectionFailed,
    ConnectionLost,
    DeviceTimeout,
    DriverError,
    FramingError,
    MalformedReply,
    ModbusExceptionResponse,
    StaleResponse,
)
from device_drivers.modbus.connecting import connect_client
from device_drivers.modbus.endpoint import BusSettings, Endpoint
from device_drivers.modbus.replies import describe_bad_pdu
from device_registry.profile import RegisterTable
from streetwatch.figures import show

log = logging.getLogger(__name__)

_READ_CODES: dict[RegisterTable, int] = {
    RegisterTable.coil: 1, RegisterTable.discrete: 2, RegisterTable.holding: 3, RegisterTable.input: 4,
}


_READ_VERBS = {table: f"read {table.value}" for table in RegisterTable}
Request = tuple[str, int, int]  # (what, first address, count): named in errors only


def _describe(what: Request) -> str:
    verb, address, count = what
    return f"{verb} {address}+{count}"


class _LostMidRequest(Exception):
    """Set on pymodbus' pending response when the connection drops under it."""


class _Undecodable(Exception):
    """Set on pymodbus' pending response when a frame arrives that it cannot decode."""


class ModbusBus:
    """An async context manager owning one pymodbus client for one physical bus.

    >>> bus = ModbusBus(Endpoint("tcp", host="127.0.0.1", port=5020), BusSettings(timeout_s=1.0))
    >>> bus.key
    'tcp://127.0.0.1:5020'

    ``async with bus:`` prepares it; the first request connects (``await bus.connect()`` to fail
    fast), and after a drop the next request connects again.
    """

    def __init__(self, endpoint: Endpoint, settings: BusSettings | None = None) -> None:
        self.endpoint = endpoint
        self.settings = settings or BusSettings()
        self.timeout_s = self.settings.timeout_s
        self._connect_timeout_s, self._pause_s, self._quiet_s = self.settings.resolve(endpoint)
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._unconnected: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None  # a connect failed
        self._lock = asyncio.Lock()
        self._open = False
        self._ready_at = 0.0  # monotonic time before which no frame may be sent
        self._bytes_in = 0  # bytes received during the current request
        self.requests = 0
        self.failures = 0

    @property
    def key(self) -> str:
        return self.endpoint.key

    def __repr__(self) -> str:
        return f"ModbusBus({self.key})"

    async def __aenter__(self) -> Self:
        # The bus converts every pymodbus failure and says what happened; pymodbus' own log lines
        # would repeat it on every retry (and on an installer's terminal during a probe).
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        self._open = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._open = False
        self._close()
        self._unconnected = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        """Connect now (the first request would). Raises :class:`ConnectionFailed`."""
        async with self._held_lock():
            await self._ensure_connected()

    async def disconnect(self) -> None:
        """Close the connection after the request in flight (the next request connects again)."""
        async with self._held_lock():
            self._close()

    def _held_lock(self) -> asyncio.Lock:
        if not self._open:
            raise DriverError("the bus is not open: use `async with ModbusBus(...)`", where=self.key)
        return self._lock

    def _new_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        e = self.endpoint
        # Our asyncio.timeout bounds each connect and request; pymodbus' own (one value for both)
        # is set far beyond so it never fires first. No pymodbus retries and no background
        # reconnect: the caller's next poll is the retry.
        backstop_s = 4 * max(self.timeout_s, self._connect_timeout_s) + 1
        common: dict[str, Any] = {"name": self.key, "reconnect_delay": 0, "retries": 0,
                                  "timeout": backstop_s, "trace_connect": self._on_connection,
                                  "trace_packet": self._on_packet}
        if e.kind == "rtu":
            return AsyncModbusSerialClient(e.serial_port, framer=FramerType.RTU, baudrate=e.baudrate,
                                           parity=e.parity, stopbits=e.stopbits, bytesize=e.bytesize, **common)
        framer = FramerType.RTU if e.kind == "rtu-over-tcp" else FramerType.SOCKET
        return AsyncModbusTcpClient(e.host, port=e.port, framer=framer, **common)

    def _on_connection(self, connected: bool) -> None:
        if connected or self._client is None:
            return
        # pymodbus would let the request in flight wait for its timeout: fail it now instead.
        self._fail_pending(self._client, _LostMidRequest())

    def _guard_decoding(self, client: AsyncModbusTcpClient | AsyncModbusSerialClient) -> None:
        """Make a frame pymodbus cannot decode fail the request in flight instead of raising in asyncio."""
        framer = client.ctx.framer
        handle_frame = framer.handleFrame

        def guarded(data: bytes, exp_devid: int, exp_tid: int) -> tuple[int, Any]:
            try:
                return handle_frame(data, exp_devid, exp_tid)
            except Exception:  # anything raised here would become asyncio's traceback
                try:
                    _, _, _, pdu = framer.decode(data)
                except Exception:  # the framer split it once already: keep the first failure
                    pdu = b""
                self._fail_pending(client, _Undecodable(describe_bad_pdu(pdu)))
                return len(data), None  # drop the bytes; the request fails and the connection is renewed

        framer.handleFrame = guarded  # type: ignore[method-assign]

    @staticmethod
    def _fail_pending(client: AsyncModbusTcpClient | AsyncModbusSerialClient, exc: Exception) -> None:
        pending = getattr(client.ctx, "response_future", None)
        if isinstance(pending, asyncio.Future) and not pending.done():
            pending.set_exception(exc)

    def _unframed_bytes(self) -> int:
        """Bytes received that pymodbus keeps waiting to complete into a frame."""
        if self._client is None:
            return 0
        return len(getattr(self._client.ctx, "recv_buffer", b""))

    def _on_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._bytes_in += len(data)
        return data

    async def _ensure_connected(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._close()
        client, self._unconnected = self._unconnected, None
        if client is None:
            client = self._new_client()
            self._guard_decoding(client)
        self._client = client
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                ok = await connect_client(client)
        except (TimeoutError, OSError):
            ok = False
        if not ok:
            self._close()
            # It never had a connection, so no frame or state of one: the next attempt takes it again. (A
            # new client per attempt left about 4 kB of cyclic garbage each, hundreds of attempts a second.)
            self._unconnected = client
            where = self.endpoint.serial_port if self.endpoint.kind == "rtu" else f"{self.endpoint.host}:" \
                f"{self.endpoint.port}"
            raise ConnectionFailed(f"cannot connect to {where} (refused, unreachable or no such port)",
                                   where=self.key)
        log.debug("connected to %s", self.key)
        return client

    def _close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    async def _pause(self) -> None:
        wait_s = self._ready_at - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)

    async def call(self, unit: int, what: Request, send: Callable[[Any], Awaitable[Any]],
                   check: Callable[[Any], str | None]) -> Any:
        """Run one request on the bus and return pymodbus' response PDU, or raise a :class:`DriverError`.

        ``what`` names the request in errors (``("read input", 0, 11)``); ``send(client)`` issues it;
        ``check(response)`` returns why a response does not answer it (or None). The low-level
        entry; prefer the read_/write_ methods.
        """
        async with self._held_lock():
            await self._pause()
            client = await self._ensure_connected()
            self.requests += 1
            self._bytes_in = 0
            try:
                async with asyncio.timeout(self.timeout_s):
                    response = await send(client)
            except TimeoutError:
                self.failures += 1
                unframed = self._unframed_bytes()
                self._after_timeout()
                if unframed and not self.endpoint.is_rtu:
                    # MBAP says how long the frame is: what came is a reply cut short, not silence.
                    self._close()
                    raise MalformedReply(_describe(what), f"truncated: {unframed} bytes of a frame arrived, the rest "
                                         f"not within {show(self.timeout_s)} s", where=self._where(unit)) from None
                if self._bytes_in and self.endpoint.is_rtu:
                    raise FramingError(f"{_describe(what)}: {self._bytes_in} bytes arrived but no valid frame "
                                       f"within {show(self.timeout_s)} s (CRC error or garbage)",
                                     where=self._where(unit)) from None
                raise DeviceTimeout(f"{_describe(what)}: no answer within {show(self.timeout_s)} s",
                                    where=self._where(unit)) from None
            except _Undecodable as exc:
                self.failures += 1
                self._after_timeout()
                self._close()  # a device that sent one malformed frame may be out of step with the next
                raise MalformedReply(_describe(what), str(exc), where=self._where(unit)) from None
            except (_LostMidRequest, ConnectionException, ConnectionError):
                self.failures += 1
                self._close()
                raise ConnectionLost(f"{_describe(what)}: connection lost",
                                     where=self._where(unit)) from None
            except ModbusIOException as exc:
                self.failures += 1
                self._after_timeout()
                raise FramingError(f"{_describe(what)}: {exc.string}", where=self._where(unit)) from None
            except ModbusException as exc:
                self.failures += 1
                raise DriverError(f"{_describe(what)}: {exc.string}", where=self._where(unit)) from None
            finally:
                self._ready_at = max(self._ready_at, time.monotonic() + self._pause_s)
            if response.isError():
                raise ModbusExceptionResponse(response.exception_code, function_code=response.function_code & 0x7F,
                                              where=self._where(unit))
            problem = check(response)
            if problem is not None:
                self.failures += 1
                self._after_timeout()
                raise StaleResponse(f"{_describe(what)}: the answer does not match the request ({problem})",
                                    where=self._where(unit))
            return response

    def _where(self, unit: int) -> str:
        return f"{self.key} unit {unit}"

    def _after_timeout(self) -> None:
        """After a timeout or a stray answer, let a late frame arrive (and be dropped) before the next request."""
        self._ready_at = time.monotonic() + self._quiet_s
        if self.endpoint.kind == "rtu-over-tcp":
            self._close()  # whatever the converter still sends dies with this connection

    # -- requests ---------------------------------------------------------------------------------

    async def read_registers(self, unit: int, table: RegisterTable, address: int, count: int) -> list[int]:
        """Read ``count`` holding or input registers (function 3 or 4)."""
        if table.is_bits:
            raise ValueError(f"{table.value} holds bits: use read_bits")
        fc = _READ_CODES[table]

        def send(client: Any) -> Awaitable[Any]:
            if fc == 3:
                return client.read_holding_registers(address, count=count, device_id=unit)  # type: ignore[no-any-return]
            return client.read_input_registers(address, count=count, device_id=unit)  # type: ignore[no-any-return]

        def check(response: Any) -> str | None:
            if response.function_code != fc:
                return f"function {response.function_code}, expected {fc}"
            if len(response.registers) != count:
                return f"{len(response.registers)} registers, expected {count}"
            return None

        response = await self.call(unit, (_READ_VERBS[table], address, count), send, check)
        return list(response.registers)

    async def read_bits(self, unit: int, table: RegisterTable, address: int, count: int) -> list[bool]:
        """Read ``count`` coils or discrete inputs (function 1 or 2)."""
        if not table.is_bits:
            raise ValueError(f"{table.value} holds registers: use read_registers")
        fc = _READ_CODES[table]

        def send(client: Any) -> Awaitable[Any]:
            if fc == 1:
                return client.read_coils(address, count=count, device_id=unit)  # type: ignore[no-any-return]
            return client.read_discrete_inputs(address, count=count, device_id=unit)  # type: ignore[no-any-return]

        def check(response: Any) -> str | None:
            if response.function_code != fc:
                return f"function {response.function_code}, expected {fc}"
            # Bits come packed in whole bytes: 1..7 padding bits after the last one asked for.
            if not count <= len(response.bits) < count + 8:
                return f"{len(response.bits)} bits, expected {count}"
            return None

        response = await self.call(unit, (_READ_VERBS[table], address, count), send, check)
        return [bool(b) for b in response.bits[:count]]

    async def write_registers(self, unit: int, address: int, values: list[int]) -> None:
        """Write holding registers: function 6 for one, 16 for several.

        The answer must name the same address; the value a device echoes is not trusted (some echo
        what they stored after clamping): verify by reading back (:func:`~.driver.write_metric` does).
        """
        single = len(values) == 1
        fc = 6 if single else 16

        def send(client: Any) -> Awaitable[Any]:
            if single:
                return client.write_register(address, values[0], device_id=unit)  # type: ignore[no-any-return]
            return client.write_registers(address, values, device_id=unit)  # type: ignore[no-any-return]

        def check(response: Any) -> str | None:
            if response.function_code != fc:
                return f"function {response.function_code}, expected {fc}"
            if response.address != address:
                return f"address {response.address}, expected {address}"
            if not single and response.count != len(values):
                return f"count {response.count}, expected {len(values)}"
            return None

        await self.call(unit, ("write holding", address, len(values)), send, check)

    async def write_coils(self, unit: int, address: int, values: list[bool]) -> None:
        """Write coils: function 5 for one, 15 for several."""
        single = len(values) == 1
        fc = 5 if single else 15

        def send(client: Any) -> Awaitable[Any]:
            if single:
                return client.write_coil(address, values[0], device_id=unit)  # type: ignore[no-any-return]
            return client.write_coils(address, values, device_id=unit)  # type: ignore[no-any-return]

        def check(response: Any) -> str | None:
            if response.function_code != fc:
                return f"function {response.function_code}, expected {fc}"
            if response.address != address:
                return f"address {response.address}, expected {address}"
            if not single and response.count != len(values):
                return f"count {response.count}, expected {len(values)}"
            return None

        await self.call(unit, ("write coil", address, len(values)), send, check)
