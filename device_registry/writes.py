"""The SQL that changes the registry, shared by single changes and bulk imports (one transaction each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from device_registry.device import Device
from device_registry.endpoints import endpoint
from device_registry.history import Changes, encode_changes
from streetwatch.database import Database

_INSERT = ("INSERT INTO devices (id, kind, profile, transport, site, area, status, bus_key, endpoint, lat, lon, "
           "landmark, doc, created_at, updated_at) VALUES")
_ROWS_PER_STATEMENT = 100  # at most 1,500 parameters: far under SQLite's 32,766 and PostgreSQL's 65,535
_UPDATE = ("UPDATE devices SET kind = ?, profile = ?, transport = ?, site = ?, area = ?, status = ?, bus_key = ?, "
           "endpoint = ?, lat = ?, lon = ?, landmark = ?, doc = ?, updated_at = ? WHERE id = ?")


def _columns(device: Device) -> tuple[str, str, str, str, str, str, str, str | None, float, float, str, str]:
    address, location = device.address, device.location
    return (device.kind, device.profile, address.transport.value, device.site, device.area, device.status.value,
            address.bus_key, endpoint(device), location.latitude, location.longitude, location.landmark,
            device.model_dump_json())


async def _insert_rows(tx: Database, head: str, rows: Sequence[Sequence[Any]]) -> None:
    """``head`` (``INSERT INTO t (a, b) VALUES``) with every row of ``rows``, up to 100 rows a statement.

    A statement per row cost SQLite a third more than the rows themselves (an import writes some 60,000:
    devices, groups, tags, history); the rows go in the order given, so history keeps its sequence.
    """
    if not rows:
        return
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    full = len(rows) - len(rows) % _ROWS_PER_STATEMENT
    if full:
        batch = f"{head} {', '.join([one] * _ROWS_PER_STATEMENT)}"
        await tx.executemany(batch, [list(chain.from_iterable(rows[i:i + _ROWS_PER_STATEMENT]))
                                     for i in range(0, full, _ROWS_PER_STATEMENT)])
    if full < len(rows):
        await tx.execute(f"{head} {', '.join([one] * (len(rows) - full))}", list(chain.from_iterable(rows[full:])))


async def _insert_labels(tx: Database, devices: Sequence[Device]) -> None:
    groups = [(group, d.id) for d in devices for group in d.groups]
    tags = [(d.id, key, value) for d in devices for key, value in d.tags.items()]
    await _insert_rows(tx, "INSERT INTO device_groups (group_name, device_id) VALUES", groups)
    await _insert_rows(tx, "INSERT INTO device_tags (device_id, key, value) VALUES", tags)


async def insert(tx: Database, devices: Sequence[Device], now: datetime) -> None:
    if not devices:
        return
    stamp = now.isoformat()
    await _insert_rows(tx, _INSERT, [(d.id, *_columns(d), stamp, stamp) for d in devices])
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


async def record(tx: Database, entries: Sequence[tuple[str, str, Changes | str]], by: str, note: str,
                 now: datetime) -> None:
    """History rows for ``(device_id, action, changes)`` and one revision bump for the transaction.

    ``changes`` may come already encoded (:func:`~device_registry.history.encode_added`).
    """
    stamp = now.isoformat()
    await _insert_rows(
        tx, "INSERT INTO device_history (device_id, at, actor, action, changes, note) VALUES",
        [(device_id, stamp, by, action, changes if isinstance(changes, str) else encode_changes(changes), note)
         for device_id, action, changes in entries])
    await bump_revision(tx)
