"""Readings in TimescaleDB (hypertable, rollups, retention) or SQLite, behind one contract.

>>> async with open_store(settings.database, settings.store) as store:          # doctest: +SKIP
...     async with StoreWriter.from_settings(store, settings.store) as writer:
...         await writer.put_many(readings)
...     print(await store.latest(["lamp-0001"]))
"""

from telemetry_store.contract import TelemetryStore
from telemetry_store.errors import StoreError, StoreUnavailable, WriterClosed
from telemetry_store.maintenance import run_maintenance
from telemetry_store.model import Bucket, LatestValue, Resolution, RetentionStep, resolution_for
from telemetry_store.opening import open_store
from telemetry_store.schema import MIGRATIONS
from telemetry_store.writer import StoreWriter

__all__ = [
    "MIGRATIONS",
    "Bucket",
    "LatestValue",
    "Resolution",
    "RetentionStep",
    "StoreError",
    "StoreUnavailable",
    "StoreWriter",
    "TelemetryStore",
    "WriterClosed",
    "open_store",
    "resolution_for",
    "run_maintenance",
]
