"""Readings in TimescaleDB (hypertable, rollups, retention) or SQLite, behind one contract.

The store writes batches; batching, backpressure and durability are the gateway's one write path
(``gateway.intake.pipeline.StorePipeline``, in front of its journal).

>>> async with open_store(settings.database, settings.store) as store:          # doctest: +SKIP
...     await store.write(batch)                        # one transaction, idempotent
...     print(await store.latest(["lamp-0001"]))
"""

from telemetry_store.contract import BatchSink, TelemetryStore
from telemetry_store.errors import StoreError, StoreUnavailable
from telemetry_store.maintenance import run_maintenance
from telemetry_store.model import Bucket, FlaggedReading, LatestValue, Resolution, RetentionStep, resolution_for
from telemetry_store.opening import open_store
from telemetry_store.schema import MIGRATIONS

__all__ = [
    "MIGRATIONS",
    "BatchSink",
    "Bucket",
    "FlaggedReading",
    "LatestValue",
    "Resolution",
    "RetentionStep",
    "StoreError",
    "StoreUnavailable",
    "TelemetryStore",
    "open_store",
    "resolution_for",
    "run_maintenance",
]
