"""The SQL that changes the registry, shared by single changes and bulk imports (one transaction each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from device_registry.device import Device
from device_registry.endpoints import endpoint
from device_registry.history import Changes, encode_changes
from streetwatch.database import Database

_INSERT = ("INSERT INTO devices (id, kind, profile, transport, site, area, status, bus_key, endpoint, lat, lon, "
           "landmark, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE = ("UPDATE devices SET kind = ?, profile = ?, transport = ?, site = ?, area = ?, status = ?, bus_key = ?, "
           "endpoint = ?, lat = ?, lon = ?, landmark = ?, doc = ?, updated_at = ? WHERE id = ?")


def _columns(device: Device) -> tuple[str, str, str, str, str, str, str, str | None, float, float, str, str]:
    address, location = device.address, device.location
    return (device.kind, device.profile, address.transport.value, device.site, device.area, device.status.value,
            address.bus_key, endpoint(device), location.latitude, location.longitude, location.landmark,
            device.model_dump_json())


async def _insert_labels(tx: Database, devices: Sequence[Device]) -> None:
    groups = [(group, d.id) for d in devices for group in d.groups]
    tags = [(d.id, key, value) for d in devices for key, value in d.tags.items()]
    if groups:
        await tx.executemany("INSERT INTO device_groups (group_name, device_id) VALUES (?, ?)", groups)
    if tags:
        await tx.executemany("INSERT INTO device_tags (device_id, key, value) VALUES (?, ?, ?)", tags)


async def insert(tx: Database, devices: Sequence[Device], now: datetime) -> None:
    if not devices:
        return
    stamp = now.isoformat()
    await tx.executemany(_INSERT, [(d.id, *_columns(d), stamp, stamp) for d in devices])
    await _insert_labels(tx, devices)


async def update(tx: Database, devices: Sequence[Device], now: datetime) -> None:
    if not devices:
        return
    stamp = now.isoformat()
    await tx.executemany(_UPDATE, [(*_columns(d), stamp, d.id) for d in devices])
    ids = [(d.id,) for d in devices]
    await tx.executemany("DELETE FROM device_groups WHERE device_id = ?", ids)
    await tx.executemany("DELETE FROM device_tags WHERE device_id = ?", ids)
    await _insert_labels(tx, devices)


async def bump_revision(tx: Database) -> None:
    await tx.execute("UPDATE registry_revision SET revision = revision + 1 WHERE id = 1")


async def record(tx: Database, entries: Sequence[tuple[str, str, Changes]], by: str, note: str,
                 now: datetime) -> None:
    """History rows for ``(device_id, action, changes)`` and one revision bump for the transaction."""
    stamp = now.isoformat()
    await tx.executemany(
        "INSERT INTO device_history (device_id, at, actor, action, changes, note) VALUES (?, ?, ?, ?, ?, ?)",
        [(device_id, stamp, by, action, encode_changes(changes), note) for device_id, action, changes in entries])
    await bump_revision(tx)
