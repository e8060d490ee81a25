"""A batch of readings as binary COPY data, built as columns: the rows for ``readings`` and the last values.

psycopg's ``write_row`` dumps each reading field by field (a coroutine a row), after the store had
made a tuple of keys for it, and the last values were grouped reading by reading. Here the batch
becomes four columns (time, device key, metric key, value) packed in bulk
(:func:`telemetry_store.binary_columns.interleave`). A message's readings arrive together (one
device, one time), so the batch is read in *runs* of one device and one time: the time's
microseconds and the device's key are found once a run. The newest values per device are taken
run by run: a device with one run in the batch (the usual case: a batch spans less than a
reporting interval) gives that run as it is, its keys put in order by a permutation kept for
that set of metrics.

Among readings of one series the newest wins; among equal times the first, as in the hypertable
(the same as :func:`telemetry_store.latest_batch.newest_per_device` for rows; a test holds the two
together). Raises ``KeyError`` for a device or metric without a key (the caller adds the keys and
encodes again), and ``TypeError``/``OverflowError``/``struct.error`` for a reading that is not
storable (a naive time, a value that is no number, a key out of range).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from streetwatch.readings import Reading
from telemetry_store.binary_columns import interleave
from telemetry_store.latest_batch import PG_EPOCH, SIGNATURE, TRAILER, Entry, encode_latest_entries, latest_entry

_MICROSECOND = timedelta(microseconds=1)
# A readings row: 4 fields; ts (int8 at byte 6), device_key (int4 at 18), metric_key (int2 at 26), value (float8 at 32).
_ROW = struct.pack(">hiqiiihid", 4, 8, 0, 4, 0, 2, 0, 8, 0.0)

Run = tuple[int, int, int, int]  # device key, microseconds since 2000 UTC, first reading, end


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """A batch ready to COPY: the ``readings`` stream, the ``latest_staging`` stream, the distinct times."""

    rows: bytes
    latest: bytes
    times: set[datetime]


def encode_batch(readings: Sequence[Reading], devices: Mapping[str, int], metrics: Mapping[str, int]) -> EncodedBatch:
    """Encode ``readings`` with the keys of ``devices`` and ``metrics`` (see the module doc)."""
    runs: list[Run] = []
    times: set[datetime] = set()
    last_device: str | None = None
    last_ts: datetime | None = None
    device_key = micros = start = 0
    for index, reading in enumerate(readings):
        ts, device_id = reading.ts, reading.device_id
        if ts is not last_ts or device_id is not last_device:  # a new run (a message's readings share both)
            if index:
                runs.append((device_key, micros, start, index))
            if ts is not last_ts:
                micros = (ts - PG_EPOCH) // _MICROSECOND
                times.add(ts)
                last_ts = ts
            if device_id is not last_device:
                device_key = devices[device_id]
                last_device = device_id
            start = index
    count = len(readings)
    if count:
        runs.append((device_key, micros, start, count))
    keys = [metrics[reading.metric] for reading in readings]
    values = [reading.value for reading in readings]
    stamps: list[int] = []
    device_keys: list[int] = []
    for device_key, micros, start, end in runs:
        stamps += [micros] * (end - start)
        device_keys += [device_key] * (end - start)
    rows = interleave(_ROW, count, [("q", 6, stamps), ("i", 18, device_keys), ("h", 26, keys), ("d", 32, values)])
    return EncodedBatch(SIGNATURE + rows + TRAILER, encode_latest_entries(_newest(runs, keys, values)), times)


def _newest(runs: list[Run], keys: list[int], values: list[float]) -> list[Entry]:
    """Each device's ``latest_staging`` row: its newest value per metric."""
    by_device: dict[int, list[Run]] = {}
    for run in runs:
        found = by_device.get(run[0])
        if found is None:
            by_device[run[0]] = [run]
        else:
            found.append(run)
    entries: list[Entry] = []
    for device_key, device_runs in by_device.items():
        if len(device_runs) == 1:
            _, micros, start, end = device_runs[0]
            order = _order(tuple(keys[start:end]))
            if order is not None:  # no metric twice
                ordered, permutation = order
                run_values = values[start:end]
                if permutation is not None:
                    run_values = [run_values[i] for i in permutation]
                entries.append((device_key, micros, micros, ordered, None, run_values))
                continue
        newest: dict[int, tuple[int, float]] = {}
        for _, micros, start, end in device_runs:
            for index in range(start, end):
                kept = newest.get(keys[index])
                if kept is None or micros > kept[0]:  # equal times: the first stays
                    newest[keys[index]] = (micros, values[index])
        entries.append(latest_entry(device_key, newest))
    return entries


_ORDERS: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...] | None] | None] = {}


def _order(keys: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...] | None] | None:
    """``keys`` in order and the permutation that orders them (``None``: in order already); ``None`` when a key
    repeats. Kept per set of keys: devices of one kind send the same metrics in the same order."""
    if keys in _ORDERS:
        return _ORDERS[keys]
    if len(_ORDERS) >= 10_000:  # bounded, for fleets whose devices report any subset
        _ORDERS.clear()
    if len(set(keys)) != len(keys):
        order = None
    else:
        permutation = tuple(sorted(range(len(keys)), key=keys.__getitem__))
        order = (tuple(keys[i] for i in permutation),
                 None if permutation == tuple(range(len(keys))) else permutation)
    _ORDERS[keys] = order
    return order
