"""One Modbus address, one device: two devices in service may not answer at the same unit id on the same line.

A device's endpoint is its bus (``tcp://10.20.0.15:502``, ``rtu:///dev/ttyUSB0``) plus its unit id;
MQTT devices have none (their id names their topics). Retired devices free their endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from device_registry.device import Device, DeviceStatus, Transport
from device_registry.errors import FieldProblem
from streetwatch.database import Database

_CHUNK = 500


def endpoint(device: Device) -> str | None:
    """``tcp://10.20.0.15:502#1``; ``None`` for MQTT."""
    address = device.address  # read once: an import asks three times per device
    if address.transport is Transport.mqtt:
        return None
    return f"{address.bus_key}#{getattr(address, 'unit', '')}"


def describe(key: str) -> str:
    """``rtu:///dev/ttyUSB0#7`` → ``unit 7 on /dev/ttyUSB0``."""
    bus, _, unit = key.rpartition("#")
    return f"unit {unit} on {bus.partition('://')[2]}"


async def taken(db: Database, keys: Iterable[str]) -> dict[str, str]:
    """Which of ``keys`` devices in service already use: endpoint → device id."""
    wanted = sorted(set(keys))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = await db.fetch_all(
            f"SELECT id, endpoint FROM devices WHERE status <> 'retired' AND endpoint IN ({marks})", chunk)
        found.update((row["endpoint"], row["id"]) for row in rows)
    return found


def conflicts(devices: Sequence[Device], in_use: Mapping[str, str]) -> dict[str, FieldProblem]:
    """Devices (by id) whose endpoint another device in service holds, the earlier ones claiming first.

    ``in_use`` comes from the database; entries of devices among ``devices`` are ignored, since
    their own new address is what counts.
    """
    moving = {d.id for d in devices}
    holders = {key: owner for key, owner in in_use.items() if owner not in moving}
    problems: dict[str, FieldProblem] = {}
    for device in devices:
        key = endpoint(device)
        if key is None or device.status is DeviceStatus.retired:
            continue
        owner = holders.setdefault(key, device.id)
        if owner != device.id:
            problems[device.id] = FieldProblem("unit", f"{describe(key)} is already used by {owner}")
    return problems
