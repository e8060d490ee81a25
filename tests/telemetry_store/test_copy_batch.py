"""A batch as columns: the COPY rows and the newest values, the same as the row by row encoding."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streetwatch.readings import Reading
from telemetry_store import timescale_sql as sql
from telemetry_store.binary_columns import interleave
from telemetry_store.copy_batch import encode_batch
from telemetry_store.latest_batch import PG_EPOCH, SIGNATURE, TRAILER, Row, encode_latest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEVICES = {f"D{i}": 40_000 + i for i in range(4)}
METRICS = {f"m{i}": 7 - i for i in range(6)}  # keys in the reverse order of the names: runs need sorting
_ROW = struct.Struct(">hiqiiihid")


def rows_of(readings: list[Reading]) -> list[Row]:
    return [(r.ts, DEVICES[r.device_id], METRICS[r.metric], r.value) for r in readings]


def row_by_row(rows: list[Row]) -> bytes:
    """The readings stream as psycopg's write_row makes it for these types."""
    return SIGNATURE + b"".join(_ROW.pack(4, 8, (ts - PG_EPOCH) // timedelta(microseconds=1), 4, device, 2, metric, 8,
                                          value) for ts, device, metric, value in rows) + TRAILER


# Messages: a device, a time (few, so that times repeat) and some metrics (a metric may repeat).
messages = st.lists(st.tuples(st.sampled_from(sorted(DEVICES)), st.integers(0, 3),
                              st.lists(st.tuples(st.sampled_from(sorted(METRICS)),
                                                 st.floats(allow_nan=False, width=64)), min_size=1, max_size=6)),
                    max_size=30)


def readings_of(drawn: list[tuple[str, int, list[tuple[str, float]]]]) -> list[Reading]:
    out = []
    for device_id, second, metrics in drawn:
        ts = T0 + timedelta(seconds=second)  # one time object a message, as the parser makes them
        out += [Reading(device_id, metric, ts, value) for metric, value in metrics]
    return out


@settings(max_examples=300, deadline=None)
@given(messages)
def test_the_columns_give_the_rows_and_last_values_of_the_row_by_row_encoding(
        drawn: list[tuple[str, int, list[tuple[str, float]]]]) -> None:
    readings = readings_of(drawn)
    rows = rows_of(readings)
    batch = encode_batch(readings, DEVICES, METRICS)
    assert batch.rows == row_by_row(rows)
    assert batch.latest == encode_latest(rows, {row[0] for row in rows})
    assert batch.times == {r.ts for r in readings}


def test_a_run_is_split_by_a_new_time_object_or_device_even_when_equal() -> None:
    # Equal times in different objects (a replay parses each record again) are runs of their own: same result.
    first, again = T0, T0 + timedelta(0)
    readings = [Reading("D0", "m0", first, 1.0), Reading("D0", "m1", again, 2.0), Reading("D0", "m0", again, 3.0)]
    batch = encode_batch(readings, DEVICES, METRICS)
    rows = rows_of(readings)
    assert batch.latest == encode_latest(rows, {first})
    assert batch.rows == row_by_row(rows)


@pytest.mark.parametrize(("reading", "error"), [
    (Reading("D0", "m0", datetime(2026, 3, 1), 1.0), TypeError),  # naive
    (Reading("D0", "m0", T0, "high"), struct.error),  # type: ignore[arg-type]
    (Reading("D9", "m0", T0, 1.0), KeyError),  # no key yet: the store adds it and encodes again
    (Reading("D0", "m9", T0, 1.0), KeyError),
])
def test_what_cannot_be_stored_raises(reading: Reading, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_batch([Reading("D1", "m1", T0, 0.5), reading], DEVICES, METRICS)


def test_a_key_out_of_its_field_is_refused() -> None:
    with pytest.raises(struct.error):
        encode_batch([Reading("D0", "m0", T0, 1.0)], DEVICES, {"m0": 40_000})
    with pytest.raises(struct.error):
        interleave(bytes(4), 1, [("i", 0, [2**31])])


async def test_timescaledb_reads_the_columns_as_written(pg_url: str) -> None:
    readings = [Reading("D3", "m5", T0, -0.0), Reading("D3", "m0", T0, math.inf), Reading("D1", "m2", T0 + timedelta(
        microseconds=7), 5e-324), Reading("D1", "m2", datetime(9999, 12, 31, tzinfo=UTC), -1e308)]
    batch = encode_batch(readings, DEVICES, METRICS)
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn, conn.transaction():
        await conn.execute(sql.CREATE_STAGING.encode())
        async with conn.cursor().copy(sql.COPY_STAGING) as copy:
            await copy.write(batch.rows)
        cur = await conn.execute("SELECT ts, device_key, metric_key, value FROM readings_staging")
        back: list[tuple[Any, ...]] = list(await cur.fetchall())
    assert back == rows_of(readings)
    assert math.copysign(1.0, back[0][3]) == -1.0
