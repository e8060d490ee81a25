"""The simulated devices as the registry would hold them, and the CSV ``device import`` reads.

Each row is built as a :class:`device_registry.device.Device` first, so a row that the registry
would refuse fails here, loudly, before any file is written.

Columns: ``id,kind,profile,transport,host,port,unit,serial_port,baudrate,parity,stopbits,lat,lon,
landmark,site,groups,tags,poll_interval_s,thresholds,status,installed_on,notes`` — groups are
``;``-separated, tags ``k=v;k=v``, thresholds ``metric.level=value;…``.
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
from simulators.plan import FleetPlan, PlannedDevice

CSV_COLUMNS = (
    "id", "kind", "profile", "transport", "host", "port", "unit", "serial_port", "baudrate", "parity",
    "stopbits", "lat", "lon", "landmark", "site", "groups", "tags", "poll_interval_s", "thresholds", "status",
    "installed_on", "notes",
)


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
    address = device.address
    row = dict.fromkeys(CSV_COLUMNS, "")
    row.update(
        id=device.id, kind=device.kind, profile=device.profile, transport=device.transport.value,
        lat=f"{device.location.latitude:.6f}", lon=f"{device.location.longitude:.6f}",
        landmark=device.location.landmark, site=device.site, groups=";".join(device.groups),
        tags=";".join(f"{k}={v}" for k, v in device.tags.items()), poll_interval_s=f"{device.poll_interval_s:g}",
        thresholds=";".join(f"{metric}.{level}={value:g}" for metric, levels in device.thresholds.items()
                            for level, value in levels.items()),
        status=device.status.value, installed_on=device.installed_on.isoformat() if device.installed_on else "",
        notes=device.notes,
    )
    if isinstance(address, ModbusTcpAddress | ModbusRtuOverTcpAddress):
        row.update(host=address.host, port=str(address.port), unit=str(address.unit))
    elif isinstance(address, ModbusRtuAddress):
        row.update(serial_port=address.serial_port, baudrate=str(address.baudrate), parity=address.parity,
                   stopbits=str(address.stopbits), unit=str(address.unit))
    return row


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
