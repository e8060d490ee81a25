"""A batch's newest reading of each series, one row per device, as binary COPY data for ``latest_values``.

The TimescaleDB store keeps one latest row per device (parallel arrays of metric keys, times and
values). The client groups a batch per device and encodes those rows itself: psycopg dumps a list
element by element in Python, which made the arrays cost more than the readings; packing them
here with :mod:`struct` takes about a third of that, and the server gets 500 rows to merge
instead of 5,000 readings to sort and aggregate.

Among readings of one series the newest wins; among equal times the first (as in the hypertable,
where a second copy of a reading is not stored).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

Row = tuple[datetime, int, int, float]  # (ts, device_key, metric_key, value), as copied into readings

COPY_LATEST = ("COPY latest_staging (device_key, newest_ts, oldest_ts, metric_keys, ts, value)"
               " FROM STDIN (FORMAT BINARY)")

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # binary timestamptz: microseconds since then
_MICROSECOND = timedelta(microseconds=1)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # no flags, no header extension
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"  # a field's length -1
_INT2, _TIMESTAMPTZ, _FLOAT8 = 21, 1184, 701  # element type oids
_HEAD = struct.Struct(">hiiiqiq")  # 6 fields; device_key int4; newest_ts, oldest_ts
_ARRAY = struct.Struct(">iiiiii")  # byte length; 1 dimension, no NULLs, element oid; length, lower bound 1
_KEY = struct.Struct(">ih").pack  # each element: its byte length, then the value
_TIME = struct.Struct(">iq").pack
_VALUE = struct.Struct(">id").pack


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
    storable (a naive time, a value that is no number).
    """
    micros = {ts: (ts - _PG_EPOCH) // _MICROSECOND for ts in times}
    out = [_SIGNATURE]
    for device_key, metrics in newest_per_device(rows).items():
        keys = tuple(sorted(metrics))  # in key order, as stored: the server compares the lists whole
        newest = [metrics[key] for key in keys]
        count = len(newest)
        stamps = [row[0] for row in newest]
        last, first = max(stamps), min(stamps)
        out.append(_HEAD.pack(6, 4, device_key, 8, micros[last], 8, micros[first]))
        out.append(_keys_array(keys))
        if last == first:  # usual: a device sends its metrics together; NULL stands for "all at newest_ts"
            out.append(_NULL)
        else:
            out.append(_ARRAY.pack(20 + 12 * count, 1, 0, _TIMESTAMPTZ, count, 1))
            out.append(b"".join([_TIME(8, micros[ts]) for ts in stamps]))
        out.append(_ARRAY.pack(20 + 12 * count, 1, 0, _FLOAT8, count, 1))
        out.append(b"".join([_VALUE(8, row[3]) for row in newest]))
    out.append(_TRAILER)
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
