"""The drivers' one exception hierarchy. Foreign errors (pymodbus, OSError, JSON) become these at the edge.

Drivers raise; they never return ``None`` for a failure. The gateway's supervisor decides whether to
log, back off or mark a device offline, usually by the class: a :class:`DeviceTimeout` or a
:class:`ConnectionFailed` says the device is unreachable, a :class:`ModbusExceptionResponse` says it
answered but refused, a :class:`DecodeError` says the profile and the device disagree.
"""

from __future__ import annotations

from streetwatch.figures import show

# Modbus application protocol specification v1.1b3, section 7.
EXCEPTION_MEANINGS: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class DriverError(Exception):
    """Base of every error a driver raises. ``where`` names the bus (and unit) it happened on."""

    def __init__(self, message: str, *, where: str = "") -> None:
        self.where = where
        self.detail = message  # without ``where``, for a caller that names the device its own way
        super().__init__(f"{where}: {message}" if where else message)


class DeviceTimeout(DriverError):
    """The device sent no (complete) answer within the timeout."""


class ConnectionFailed(DriverError):
    """The bus could not be opened (refused, unreachable, no such serial port) or was lost mid-request."""


class ConnectionLost(ConnectionFailed):
    """The bus was open, then dropped under a request (the device closed it, restarted, or the line broke)."""


class ModbusExceptionResponse(DriverError):
    """The device answered with a Modbus exception: it understood and refused."""

    def __init__(self, code: int, *, function_code: int = 0, where: str = "") -> None:
        self.code = code
        self.function_code = function_code
        self.meaning = EXCEPTION_MEANINGS.get(code, "unknown exception code")
        super().__init__(f"Modbus exception {code} ({self.meaning}) to function {function_code}", where=where)


class FramingError(DriverError):
    """Bytes arrived that do not form a valid frame (bad CRC, garbage on a serial line)."""


class MalformedReply(FramingError):
    """The device answered, but with bytes that are not a Modbus reply: a byte count larger than the
    data, a frame cut short before its declared length, a PDU that cannot be decoded."""

    def __init__(self, request: str, problem: str, *, where: str = "") -> None:
        self.request = request
        self.problem = problem
        super().__init__(f"malformed reply to {request}: {problem}", where=where)


class StaleResponse(DriverError):
    """A well-formed answer that does not belong to the request (another function, length or address)."""


class DecodeError(DriverError):
    """Registers that cannot be turned into a value as the profile says (wrong count, NaN, bad text)."""


class EncodeError(DriverError, ValueError):
    """A value that cannot be written as the profile says (out of range for the type, not writable)."""


class VerificationError(DriverError):
    """A write was accepted but reading it back gave another value."""

    def __init__(self, metric: str, written: object, read_back: object, *, where: str = "") -> None:
        self.metric = metric
        self.written = written
        self.read_back = read_back
        super().__init__(f"wrote {metric}={_show(written)} but read back {_show(read_back)}", where=where)


def _show(value: object) -> str:
    return show(value) if isinstance(value, float) else str(value)


class PayloadError(DriverError):
    """An MQTT payload that cannot be used at all (not JSON, not an object, too large)."""
