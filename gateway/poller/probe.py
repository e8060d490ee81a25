"""Commissioning: read a registered device once, with its profile, and judge what came back.

Modbus devices are read directly, over a bus of the caller's :class:`~device_drivers.modbus.BusPool`
(the process's one owner of its buses); MQTT devices are heard: the probe waits for their next
telemetry message (and their retained status) on the broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt

from device_drivers import errors as driver_errors
from device_drivers.modbus import BusKind, BusPool, Endpoint, read_device, set_bits
from device_drivers.mqtt import parse_status, parse_telemetry
from device_registry.device import Device, ModbusRtuAddress, ModbusRtuOverTcpAddress, ModbusTcpAddress
from device_registry.profile import ModbusMetric, Profile
from streetwatch import topics
from streetwatch.figures import show
from streetwatch.mqtt import MqttTransport, refused_login


class ProbeFailed(Exception):
    """The device could not be read; the message says why in plain words."""


class ProbeRefused(ProbeFailed):
    """The broker refused the probe's login (``mqtt_url``'s user name and password, or the certificate):
    a setting to fix, whatever the device does."""


@dataclass(frozen=True, slots=True)
class ProbedValue:
    metric: str
    value: float
    unit: str
    low: float | None
    high: float | None
    flags: tuple[str, ...] = ()

    @property
    def plausible(self) -> bool:
        return (self.low is None or self.value >= self.low) and (self.high is None or self.value <= self.high)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    device_id: str
    values: list[ProbedValue]
    problems: dict[str, str] = field(default_factory=dict)  # metric → why it has no value
    texts: dict[str, str] = field(default_factory=dict)
    status: str | None = None  # MQTT: the retained status
    refused: dict[str, str] = field(default_factory=dict)  # Modbus: register block → the device's exception

    @property
    def implausible(self) -> list[ProbedValue]:
        return [v for v in self.values if not v.plausible]

    @property
    def healthy(self) -> bool:
        return bool(self.values) and not self.implausible and not self.problems


def _where(device: Device) -> str:
    address = device.address
    if isinstance(address, ModbusRtuAddress):
        return f"unit {address.unit} on {address.serial_port}"
    host = getattr(address, "host", "?")
    return f"unit {getattr(address, 'unit', '?')} at {host}:{getattr(address, 'port', '?')}"


# What to check, by what went wrong and the kind of bus: a serial line has a baud rate and parity,
# a Modbus TCP device has none; a serial-to-Ethernet converter has both sides. Most specific first.
_FAILURES: tuple[tuple[type[driver_errors.DriverError], str], ...] = (
    (driver_errors.ConnectionLost, "lost the connection to {where}: {detail} ({hint})"),
    (driver_errors.ConnectionFailed, "cannot connect to {where}: {detail} ({hint})"),
    (driver_errors.DeviceTimeout, "no answer from {where} within {timeout_s} s ({hint})"),
    (driver_errors.MalformedReply, "malformed reply from {where} to {exc.request}: {exc.problem} ({hint})"),
    (driver_errors.FramingError, "garbled answer from {where}: {detail} ({hint})"),
    (driver_errors.StaleResponse, "garbled answer from {where}: {detail} ({hint})"),
)
_HINTS: dict[tuple[type[driver_errors.DriverError], BusKind], str] = {
    (driver_errors.ConnectionFailed, "tcp"): "are the host and port right, and is the device powered and on the "
                                              "network?",
    (driver_errors.ConnectionFailed, "rtu-over-tcp"): "are the host and port right, and is the converter powered "
                                                      "and on the network?",
    (driver_errors.ConnectionFailed, "rtu"): "is the serial port right, its adapter plugged in, and no other "
                                             "program holding it?",
    (driver_errors.ConnectionLost, "tcp"): "the device closed it: did it restart, or does it refuse this many "
                                            "connections?",
    (driver_errors.ConnectionLost, "rtu-over-tcp"): "the converter closed it: did it restart, or does it refuse "
                                                    "this many connections?",
    (driver_errors.ConnectionLost, "rtu"): "was the serial adapter unplugged?",
    (driver_errors.DeviceTimeout, "tcp"): "check the unit id, and that the device speaks Modbus TCP on this port",
    (driver_errors.DeviceTimeout, "rtu-over-tcp"): "check the unit id and the converter's serial side: wiring, "
                                                   "baud rate and parity; a converter answers nothing for a "
                                                   "wrong unit id",
    (driver_errors.DeviceTimeout, "rtu"): "check the unit id, wiring, baud rate and parity",
    (driver_errors.MalformedReply, "tcp"): "the device answered, but not with a valid Modbus TCP frame: does it "
                                           "speak RTU over TCP, or another protocol on this port?",
    (driver_errors.MalformedReply, "rtu-over-tcp"): "check the converter's baud rate and parity, and that one "
                                                    "master is on the line",
    (driver_errors.MalformedReply, "rtu"): "check baud rate, parity and that one master is on the line",
    (driver_errors.FramingError, "tcp"): "is another program talking to the device on this connection?",
    (driver_errors.FramingError, "rtu-over-tcp"): "check baud rate, parity and that one master is on the line",
    (driver_errors.FramingError, "rtu"): "check baud rate, parity and that one master is on the line",
}


def failure_text(exc: driver_errors.DriverError, device: Device, timeout_s: float) -> str:
    """Why ``device`` could not be read, in plain words, with what to check on its kind of bus."""
    where = _where(device)
    kind = Endpoint.of(device.address).kind  # type: ignore[arg-type]
    if isinstance(exc, driver_errors.ModbusExceptionResponse):
        hint = " (a gateway found no device with this unit id)" if exc.code in (10, 11) else ""
        return f"{where} refused the request: Modbus exception {exc.code}, {exc.meaning}{hint}"
    if isinstance(exc, driver_errors.DecodeError):
        return f"{where} answered, but not as profile {device.profile!r} expects: {exc.detail}"
    for cls, template in _FAILURES:
        if isinstance(exc, cls):
            hint_cls = driver_errors.FramingError if cls is driver_errors.StaleResponse else cls
            hint = _HINTS[hint_cls, kind]
            return template.format(where=where, exc=exc, detail=exc.detail, timeout_s=show(timeout_s), hint=hint)
    return f"{where}: {exc.detail}"


def _value(metric: str, value: float, profile: Profile, flags: tuple[str, ...] = ()) -> ProbedValue:
    low, high = profile.plausible_range(metric)
    return ProbedValue(metric, value, profile.unit_of(metric), low, high, flags)


async def probe_modbus(device: Device, profile: Profile, buses: BusPool) -> ProbeResult:
    """Read ``device`` once over its bus in ``buses`` (whose settings give each request's timeout)."""
    if profile.modbus is None:
        raise ProbeFailed(f"profile {profile.name!r} has no Modbus register map")
    address = device.address
    if not isinstance(address, ModbusTcpAddress | ModbusRtuOverTcpAddress | ModbusRtuAddress):
        raise ProbeFailed(f"{device.id} is not a Modbus device")
    bitfields = {m.name: m for m in profile.modbus.metrics if isinstance(m, ModbusMetric) and m.bits}
    try:
        bus = await buses.bus_for(address)
        await bus.connect()
        sample = await read_device(bus, address.unit, profile)
    except driver_errors.DriverError as exc:
        raise ProbeFailed(failure_text(exc, device, buses.settings.timeout_s)) from None
    values = []
    for name, value in sample.values.items():
        flags = tuple(set_bits(bitfields[name], int(value))) if name in bitfields else ()
        values.append(_value(name, value, profile, flags))
    refused = {block: f"{r.reason}; no {', '.join(r.metrics)}" for block, r in sample.refused.items()}
    return ProbeResult(device.id, values, dict(sample.errors), dict(sample.texts), refused=refused)


async def probe_mqtt(device: Device, profile: Profile, mqtt: MqttTransport, *, timeout_s: float = 60.0) -> ProbeResult:
    status: str | None = None
    try:
        async with mqtt.client(f"streetwatch-probe-{device.id}") as client:
            await client.subscribe(topics.status(device.id), qos=1)
            await client.subscribe(topics.telemetry(device.id), qos=1)
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                    if message.topic.matches(topics.status(device.id)):
                        status = parse_status(payload)
                        continue
                    parsed = parse_telemetry(device.id, payload, profile, datetime.now(UTC))
                    problems = {r.metric or "(payload)": f"{r.reason.value}: {r.detail}" for r in parsed.rejections}
                    values = [_value(r.metric, r.value, profile) for r in parsed.readings]
                    return ProbeResult(device.id, values, problems, status=status)
    except TimeoutError:
        heard = f" (its status is {status!r})" if status else ""
        raise ProbeFailed(f"no telemetry from {device.id} on {topics.telemetry(device.id)} within "
                          f"{show(timeout_s)} s{heard}: is the device powered and publishing to this broker?") from None
    except aiomqtt.MqttError as exc:
        if refused_login(exc):
            raise ProbeRefused(f"the MQTT broker at {mqtt.where} refused {mqtt.url.username or 'an anonymous client'}"
                               ": bad user name, password or certificate in mqtt_url/[mqtt] (or the account was "
                               "revoked)") from None
        raise ProbeFailed(f"cannot reach the MQTT broker at {mqtt.where}: {exc}") from None
    except driver_errors.PayloadError as exc:
        raise ProbeFailed(f"{device.id} published something that is not the contract: {exc}") from None
    raise ProbeFailed("the broker closed the connection")
