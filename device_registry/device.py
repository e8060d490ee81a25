"""A registered device: identity, how to reach it, where it stands, and its own thresholds.

Pydantic validates at the edge (CLI, CSV import, API); inside, a :class:`Device` is already valid
and immutable.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from streetwatch import topics
from streetwatch.passwords import hash_password, is_hash

DEVICE_ID_PATTERN = topics.DEVICE_ID_PATTERN
KNOWN_KINDS = ("lamp_controller", "culvert_gauge", "water_quality_probe", "rain_gauge")
# Group names and tag keys travel in CSV cells (';' and '=' separate them) and in CLI selectors.
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
AREA_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # people's area ids
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# An IPv4 address in its canonical form: four octets 0-255, no leading zeros (``010`` is refused as ipaddress does).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
_SERIAL_PORT = re.compile(r"^(/\S+|COM[1-9][0-9]*|[a-z][a-z0-9+.-]*://\S+)$")


def check_host(value: str) -> str:
    """An IPv4/IPv6 address or a DNS host name; ``192.168.1.300`` and ``my host`` are refused."""
    candidate = value.strip()
    if _DOTTED_QUAD.fullmatch(candidate):
        return candidate  # the common case, checked without ipaddress (it is slow when listing 100,000 devices)
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", candidate):
        raise ValueError(f"{value!r} is not a valid IPv4 address")
    labels = candidate.removesuffix(".").split(".")
    if not candidate or len(candidate) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid host name or IP address")
    return candidate


class Transport(StrEnum):
    modbus_tcp = "modbus-tcp"
    modbus_rtu = "modbus-rtu"
    modbus_rtu_over_tcp = "modbus-rtu-over-tcp"
    mqtt = "mqtt"

    @property
    def is_modbus(self) -> bool:
        return self is not Transport.mqtt


class DeviceStatus(StrEnum):
    registered = "registered"
    commissioned = "commissioned"
    active = "active"
    maintenance = "maintenance"
    retired = "retired"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusTcpAddress(_Frozen):
    transport: Literal[Transport.modbus_tcp] = Transport.modbus_tcp
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247)

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        return check_host(value)

    @property
    def bus_key(self) -> str:
        return f"tcp://{self.host}:{self.port}"


class ModbusRtuOverTcpAddress(_Frozen):
    """A serial-to-Ethernet converter: RTU frames over a TCP socket, many unit ids behind it."""

    transport: Literal[Transport.modbus_rtu_over_tcp] = Transport.modbus_rtu_over_tcp
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247)

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        return check_host(value)

    @property
    def bus_key(self) -> str:
        return f"rtu-over-tcp://{self.host}:{self.port}"


class ModbusRtuAddress(_Frozen):
    """A device on a serial line; several devices (unit ids) share one line."""

    transport: Literal[Transport.modbus_rtu] = Transport.modbus_rtu
    serial_port: str = Field(min_length=1)
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    unit: int = Field(1, ge=1, le=247)

    @field_validator("serial_port")
    @classmethod
    def _check_serial_port(cls, value: str) -> str:
        if not _SERIAL_PORT.match(value):
            raise ValueError(f"{value!r} is not a serial port: use a device path such as /dev/ttyUSB0, "
                             "COM3, or a pyserial URL such as rfc2217://host:port")
        return value

    @property
    def bus_key(self) -> str:
        return f"rtu://{self.serial_port}"


class MqttAddress(_Frozen):
    """MQTT devices need no address: the device id names their topics (docs/mqtt.md).

    ``password`` is kept only as its ``$7$`` hash (a clear one given at the edge is hashed there), the
    form the broker's password file takes (``streetwatch broker config``).
    """

    transport: Literal[Transport.mqtt] = Transport.mqtt
    client_id: str | None = None
    username: str | None = None
    password: str | None = None

    @field_validator("password")
    @classmethod
    def _hash_password(cls, value: str | None) -> str | None:
        if not value or is_hash(value):
            return value or None
        return hash_password(value)

    @property
    def bus_key(self) -> str:
        return "mqtt"


Address = Annotated[
    ModbusTcpAddress | ModbusRtuOverTcpAddress | ModbusRtuAddress | MqttAddress,
    Field(discriminator="transport"),
]


class Location(_Frozen):
    latitude: float = Field(ge=-90, le=90, description="WGS84 degrees")
    longitude: float = Field(ge=-180, le=180, description="WGS84 degrees")
    landmark: str = ""


class Device(_Frozen):
    """A device as the registry holds it.

    ``thresholds`` are per-device overrides for rules, by metric then level:
    ``{"water_level_mm": {"yellow": 300, "orange": 500, "red": 800}}``.
    """

    id: str
    kind: str = Field(min_length=1, max_length=64)
    profile: str = Field(min_length=1, max_length=64)
    address: Address
    location: Location
    site: str = ""
    area: str = Field("", max_length=64, description="the area it belongs to; '' is the root (the whole city)")
    groups: tuple[str, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)
    poll_interval_s: float = Field(60.0, gt=0, le=86_400)
    thresholds: dict[str, dict[str, float]] = Field(default_factory=dict)
    status: DeviceStatus = DeviceStatus.registered
    installed_on: date | None = None
    notes: str = ""

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not DEVICE_ID_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r}: letters, digits, '.', '_' and '-' only, 1 to 64 characters")
        return value

    @field_validator("area")
    @classmethod
    def _check_area(cls, value: str) -> str:
        if value and not AREA_PATTERN.match(value):
            raise ValueError(f"area {value!r}: lower-case letters, digits, '_' and '-', 1 to 64 characters")
        return value

    @field_validator("groups")
    @classmethod
    def _check_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for group in value:
            if not LABEL_PATTERN.fullmatch(group):
                raise ValueError(f"group {group!r}: letters, digits, '.', '_' and '-' only, 1 to 64 characters")
        return tuple(dict.fromkeys(value))  # a device is in a group once; keep the installer's order

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not LABEL_PATTERN.fullmatch(key):
                raise ValueError(f"tag key {key!r}: letters, digits, '.', '_' and '-' only, 1 to 64 characters")
            if ";" in text or len(text) > 256:
                raise ValueError(f"tag {key}: the value may not contain ';' and is at most 256 characters")
        return value

    @field_validator("thresholds")
    @classmethod
    def _check_thresholds(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for metric, levels in value.items():
            if not LABEL_PATTERN.fullmatch(metric):
                raise ValueError(f"metric {metric!r} is not a metric name")
            for level in levels:
                if not LABEL_PATTERN.fullmatch(level):
                    raise ValueError(f"{metric}: level {level!r} is not a level name (e.g. red)")
        return value

    @property
    def transport(self) -> Transport:
        return self.address.transport

    @property
    def bus_key(self) -> str:
        """Devices with the same bus key share one physical line: one request at a time."""
        return self.address.bus_key
