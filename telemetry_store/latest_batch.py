"""A batch's newest reading of each series, one row per device, as binary COPY data for ``latest_values``.

The TimescaleDB store keeps one latest row per device (parallel arrays of metric keys, times and
values). The client groups a batch per device and encodes those rows itself: psycopg dumps a list
element by element in Python, which made the arrays cost more than the readings; here the values
of every row are packed at once (:mod:`telemetry_store.binary_columns`), and the server gets 500
rows to merge instead of 5,000 readings to sort and aggregate.

Among readings of one series the newest wins; among equal times the first (as in the hypertable,
where a second copy of a reading is not stored).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from telemetry_store.binary_columns import interleave

Row = tuple[datetime, int, int, float]  # (ts, device_key, metric_key, value), as copied into readings

COPY_LATEST = ("COPY latest_staging (device_key, newest_ts, oldest_ts, metric_keys, ts, value)"
               " FROM STDIN (FORMAT BINARY)")

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # binary timestamptz: microseconds since then
_MICROSECOND = timedelta(microseconds=1)
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"  # a field's length -1
_INT2, _TIMESTAMPTZ, _FLOAT8 = 21, 1184, 701  # element type oids
_HEAD = struct.Struct(">hiiiqiq")  # 6 fields; device_key int4; newest_ts, oldest_ts
_ARRAY = struct.Struct(">iiiiii")  # byte length; 1 dimension, no NULLs, element oid; length, lower bound 1
_KEY = struct.Struct(">ih").pack  # each element: its byte length, then the value
_TIME = struct.Struct(">iq").pack
_ELEMENT = struct.pack(">id", 8, 0.0)  # a float8 element: its length, then the value


def newest_per_device(rows: Sequence[Row]) -> dict[int, dict[int, Row]]:
    """``{device_key: {metric_key: newest row}}``; among equal times the first row wins."""
    devices: dict[int, dict[int, Row]] = {}
    for row in rows:
        metrics = devices.get(row[1])
        if metrics is None:
            devices[row[1]] = {row[2]: row}
        elif row[2] not in metrics or row[0] > metrics[row[2]][0]:
            metrics[row[2]] = row
    return devices


def encode_latest(rows: Sequence[Row], times: Iterable[datetime]) -> bytes:
    """The binary COPY stream (signature to trailer) of ``latest_staging`` rows for ``rows``.

    ``times`` are the distinct times of the rows (fewer than rows: a device sends its metrics together).
    Raises ``TypeError``/``ValueError``/``OverflowError``/``struct.error`` for a reading that is not
    storable (a naive time, a value that is no number). The store takes the newest values from its
    batch's columns instead (:func:`telemetry_store.copy_batch.encode_batch`), to the same rows.
    """
    micros = {ts: (ts - PG_EPOCH) // _MICROSECOND for ts in times}
    return encode_latest_entries([latest_entry(device_key, {key: (micros[row[0]], row[3])
                                                            for key, row in metrics.items()})
                                  for device_key, metrics in newest_per_device(rows).items()])


Entry = tuple[int, int, int, tuple[int, ...], list[int] | None, list[float]]
"""A ``latest_staging`` row: device key, newest and oldest time (microseconds since 2000 UTC), the metric
keys in order, their times (``None``: all at the newest) and their values."""


def latest_entry(device_key: int, newest: dict[int, tuple[int, float]]) -> Entry:
    """The row of a device whose newest value of each metric key is ``(microseconds, value)``."""
    keys = tuple(sorted(newest))  # in key order, as stored: the server compares the lists whole
    pairs = [newest[key] for key in keys]
    stamps = [pair[0] for pair in pairs]
    last, first = max(stamps), min(stamps)
    # Usual: a device sends its metrics together; NULL stands for "all at newest_ts".
    return device_key, last, first, keys, None if last == first else stamps, [pair[1] for pair in pairs]


def encode_latest_entries(entries: Sequence[Entry]) -> bytes:
    """The binary COPY stream of ``latest_staging`` rows (every value packed in one go)."""
    values = [value for entry in entries for value in entry[5]]
    packed = interleave(_ELEMENT, len(values), [("d", 4, values)])
    out: list[bytes | bytearray] = [SIGNATURE]
    position = 0
    for device_key, last, first, keys, stamps, device_values in entries:
        out.append(_HEAD.pack(6, 4, device_key, 8, last, 8, first))
        if stamps is None:
            out.append(_same_time(keys))
        else:
            count = len(keys)
            out.append(_keys_array(keys))
            out.append(_ARRAY.pack(20 + 12 * count, 1, 0, _TIMESTAMPTZ, count, 1))
            out.append(b"".join([_TIME(8, stamp) for stamp in stamps]))
            out.append(_ARRAY.pack(20 + 12 * count, 1, 0, _FLOAT8, count, 1))
        end = position + 12 * len(device_values)
        out.append(packed[position:end])
        position = end
    out.append(TRAILER)
    return b"".join(out)


_KEY_ARRAYS: dict[tuple[int, ...], bytes] = {}  # devices of one kind report the same metrics


def _keys_array(keys: tuple[int, ...]) -> bytes:
    encoded = _KEY_ARRAYS.get(keys)
    if encoded is None:
        if len(_KEY_ARRAYS) >= 10_000:  # bounded, for fleets whose devices report any subset
            _KEY_ARRAYS.clear()
        encoded = _KEY_ARRAYS[keys] = (_ARRAY.pack(20 + 6 * len(keys), 1, 0, _INT2, len(keys), 1)
                                       + b"".join([_KEY(2, key) for key in keys]))
    return encoded


_SAME_TIME: dict[tuple[int, ...], bytes] = {}


def _same_time(keys: tuple[int, ...]) -> bytes:
    """What follows the times of a row whose values are all at its newest time, up to the values: the keys
    array, NULL for the times, the value array's header."""
    encoded = _SAME_TIME.get(keys)
    if encoded is None:
        if len(_SAME_TIME) >= 10_000:
            _SAME_TIME.clear()
        count = len(keys)
        encoded = _SAME_TIME[keys] = (_keys_array(keys) + _NULL
                                      + _ARRAY.pack(20 + 12 * count, 1, 0, _FLOAT8, count, 1))
    return encoded
