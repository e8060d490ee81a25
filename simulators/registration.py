"""The simulated devices as the registry would hold them, and the CSV ``device import`` reads.

Each row is built as a :class:`device_registry.device.Device` first, so a row that the registry
would refuse fails here, loudly, before any file is written.

The columns are the registry's own (:data:`device_registry.flat.COLUMNS`: ``id,kind,profile,transport,
host,port,unit,serial_port,baudrate,parity,stopbits,…,lat,lon,landmark,site,groups,tags,poll_interval_s,
thresholds,status,installed_on,notes``) and each row is :func:`device_registry.flat.device_to_fields`,
so what is written is exactly what ``device import`` reads.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_registry.device import (
    Device,
    DeviceStatus,
    Location,
    ModbusRtuAddress,
    ModbusRtuOverTcpAddress,
    ModbusTcpAddress,
    MqttAddress,
    Transport,
)
from device_registry.flat import COLUMNS, device_to_fields
from simulators.plan import FleetPlan, PlannedDevice

CSV_COLUMNS = COLUMNS


@dataclass(frozen=True, slots=True)
class BoundEndpoint:
    """Where an endpoint slot ended up: a TCP host and port, or a serial device path."""

    host: str = ""
    port: int = 0
    serial_port: str = ""
    baudrate: int = 9600


def _address(device: PlannedDevice, bound: BoundEndpoint | None) -> Any:
    if device.transport is Transport.mqtt:
        return MqttAddress()
    if bound is None:
        raise ValueError(f"{device.id}: its endpoint {device.endpoint} is not bound to a port yet")
    if device.transport is Transport.modbus_tcp:
        return ModbusTcpAddress(host=bound.host, port=bound.port, unit=device.unit)
    if device.transport is Transport.modbus_rtu_over_tcp:
        return ModbusRtuOverTcpAddress(host=bound.host, port=bound.port, unit=device.unit)
    return ModbusRtuAddress(serial_port=bound.serial_port, baudrate=bound.baudrate,
                            unit=device.unit)


def registered_devices(plan: FleetPlan, bound: Mapping[int, BoundEndpoint]) -> list[Device]:
    """Every planned device as a registry :class:`Device`, with its real address."""
    notes = f"simulated by streetwatch simulate (seed {plan.scenario.seed})"
    devices = []
    for d in plan.devices:
        endpoint = bound.get(d.endpoint) if d.endpoint is not None else None
        devices.append(Device(
            id=d.id, kind=d.kind, profile=d.profile, address=_address(d, endpoint),
            location=Location(latitude=d.latitude, longitude=d.longitude, landmark=d.landmark),
            site=d.site, groups=d.groups, tags=d.tag_map, poll_interval_s=d.poll_interval_s,
            status=DeviceStatus.active, installed_on=d.installed_on, notes=notes,
        ))
    return devices


def csv_row(device: Device) -> dict[str, str]:
    """The device as the registry's flat fields (the CSV row ``device import`` reads back)."""
    return device_to_fields(device)


def write_csv(devices: Iterable[Device], path: Path) -> int:
    """Write the registration CSV; returns the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for device in devices:
            writer.writerow(csv_row(device))
            count += 1
    return count
