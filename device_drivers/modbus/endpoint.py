"""Where a Modbus bus is, and its timing: timeouts, the silence between frames, the quiet after a timeout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from device_registry.device import ModbusRtuAddress, ModbusRtuOverTcpAddress, ModbusTcpAddress

BusKind = Literal["tcp", "rtu", "rtu-over-tcp"]
ModbusAddress = ModbusTcpAddress | ModbusRtuOverTcpAddress | ModbusRtuAddress

# Bits a character takes on a serial line (start, 8 data, parity or second stop, stop), as the
# Modbus over serial line specification counts them for the 3.5-character silence between frames.
_BITS_PER_CHAR = 11
_MIN_SILENCE_S = 0.00175  # the specification's fixed silence above 19,200 baud


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a bus is: a TCP host and port (Modbus TCP or RTU framing), or a serial port."""

    kind: BusKind
    host: str = ""
    port: int = 0
    serial_port: str = ""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8

    @classmethod
    def of(cls, address: ModbusAddress) -> Endpoint:
        """The endpoint of a registered device's address (devices with one bus key share one)."""
        if isinstance(address, ModbusTcpAddress):
            return cls("tcp", host=address.host, port=address.port)
        if isinstance(address, ModbusRtuOverTcpAddress):
            return cls("rtu-over-tcp", host=address.host, port=address.port)
        if not isinstance(address, ModbusRtuAddress):
            raise TypeError(f"not a Modbus address: {address!r}")
        return cls("rtu", serial_port=address.serial_port, baudrate=address.baudrate, parity=address.parity,
                   stopbits=address.stopbits, bytesize=address.bytesize)

    @property
    def key(self) -> str:
        """The same text as :attr:`device_registry.device.Device.bus_key`."""
        if self.kind == "rtu":
            return f"rtu://{self.serial_port}"
        return f"{self.kind}://{self.host}:{self.port}"

    @property
    def is_rtu(self) -> bool:
        return self.kind != "tcp"

    def frame_silence_s(self) -> float:
        """The silence a serial line needs between frames (3.5 characters, at least 1.75 ms)."""
        return max(3.5 * _BITS_PER_CHAR / self.baudrate, _MIN_SILENCE_S)


@dataclass(frozen=True, slots=True)
class BusSettings:
    """Timing of a bus. ``None`` means: what the bus kind needs (see :meth:`resolve`)."""

    timeout_s: float = 3.0
    connect_timeout_s: float | None = None
    inter_frame_s: float | None = None
    quiet_after_timeout_s: float | None = None

    def resolve(self, endpoint: Endpoint) -> tuple[float, float, float]:
        """(connect timeout, pause between frames, quiet time after a timeout) in seconds."""
        connect = self.connect_timeout_s if self.connect_timeout_s is not None else self.timeout_s
        if self.inter_frame_s is not None:
            pause = self.inter_frame_s
        elif endpoint.kind == "rtu":
            pause = endpoint.frame_silence_s()
        elif endpoint.kind == "rtu-over-tcp":
            pause = _MIN_SILENCE_S  # the converter's serial side needs its silence too
        else:
            pause = 0.0
        if self.quiet_after_timeout_s is not None:
            quiet = self.quiet_after_timeout_s
        else:
            quiet = min(self.timeout_s, 1.0) if endpoint.is_rtu else 0.0
        return connect, pause, quiet
