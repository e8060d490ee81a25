"""Commissioning: read a registered device once, with its profile, and judge what came back.

Modbus devices are read directly; MQTT devices are heard: the probe waits for their next telemetry
message (and their retained status) on the broker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt

from device_drivers import errors as driver_errors
from device_drivers.modbus import BusSettings, Endpoint, ModbusBus, read_device, set_bits
from device_drivers.mqtt import parse_status, parse_telemetry
from device_registry.device import Device, ModbusRtuAddress
from device_registry.profile import ModbusMetric, Profile
from streetwatch import topics
from streetwatch.mqtt import MqttTransport


class ProbeFailed(Exception):
    """The device could not be read; the message says why in plain words."""


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


def _plain(exc: driver_errors.DriverError, device: Device, timeout_s: float) -> str:
    where = _where(device)
    if isinstance(exc, driver_errors.ConnectionFailed):
        return f"cannot connect to {where}: {exc} (is the address right, and the device or converter powered?)"
    if isinstance(exc, driver_errors.DeviceTimeout):
        return (f"no answer from {where} within {timeout_s:g} s (check the unit id, wiring, baud rate and parity; "
                "a serial-to-Ethernet converter answers nothing for a wrong unit id)")
    if isinstance(exc, driver_errors.ModbusExceptionResponse):
        hint = " (a gateway found no device with this unit id)" if exc.code in (10, 11) else ""
        return f"{where} refused the request: Modbus exception {exc.code}, {exc.meaning}{hint}"
    if isinstance(exc, driver_errors.FramingError | driver_errors.StaleResponse):
        return f"garbled answer from {where}: {exc} (check baud rate, parity and that one master is on the line)"
    if isinstance(exc, driver_errors.DecodeError):
        return f"{where} answered, but not as profile {device.profile!r} expects: {exc}"
    return f"{where}: {exc}"


def _value(metric: str, value: float, profile: Profile, flags: tuple[str, ...] = ()) -> ProbedValue:
    low, high = profile.plausible_range(metric)
    return ProbedValue(metric, value, profile.unit_of(metric), low, high, flags)


async def probe_modbus(device: Device, profile: Profile, *, timeout_s: float = 3.0) -> ProbeResult:
    if profile.modbus is None:
        raise ProbeFailed(f"profile {profile.name!r} has no Modbus register map")
    unit = getattr(device.address, "unit", 1)
    bitfields = {m.name: m for m in profile.modbus.metrics if isinstance(m, ModbusMetric) and m.bits}
    try:
        async with ModbusBus(Endpoint.of(device.address), BusSettings(timeout_s=timeout_s)) as bus:  # type: ignore[arg-type]
            await bus.connect()
            sample = await read_device(bus, unit, profile)
    except driver_errors.DriverError as exc:
        raise ProbeFailed(_plain(exc, device, timeout_s)) from None
    values = []
    for name, value in sample.values.items():
        flags = tuple(set_bits(bitfields[name], int(value))) if name in bitfields else ()
        values.append(_value(name, value, profile, flags))
    return ProbeResult(device.id, values, dict(sample.errors), dict(sample.texts))


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
                          f"{timeout_s:g} s{heard}: is the device powered and publishing to this broker?") from None
    except aiomqtt.MqttError as exc:
        raise ProbeFailed(f"cannot reach the MQTT broker at {mqtt.where}: {exc}") from None
    except driver_errors.PayloadError as exc:
        raise ProbeFailed(f"{device.id} published something that is not the contract: {exc}") from None
    raise ProbeFailed("the broker closed the connection")
