"""The client side of the last-value merge: newest per series, and the binary rows TimescaleDB reads."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from telemetry_store import timescale_sql as sql
from telemetry_store.latest_batch import COPY_LATEST, Row, encode_latest, newest_per_device

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.mark.parametrize(("rows", "expected"), [
    ([], {}),
    ([(T0, 1, 2, 1.0), (T0 + S, 1, 2, 2.0), (T0 - S, 1, 2, 3.0)], {1: {2: (T0 + S, 1, 2, 2.0)}}),
    # equal times: the first row wins, as in the hypertable
    ([(T0, 1, 2, 1.0), (T0, 1, 2, 9.0)], {1: {2: (T0, 1, 2, 1.0)}}),
    ([(T0, 7, 3, 1.0), (T0, 5, 3, 2.0), (T0, 7, 1, 3.0)],
     {7: {3: (T0, 7, 3, 1.0), 1: (T0, 7, 1, 3.0)}, 5: {3: (T0, 5, 3, 2.0)}}),
])
def test_newest_per_device(rows: list[Row], expected: dict[int, dict[int, Row]]) -> None:
    assert newest_per_device(rows) == expected


def test_a_naive_time_or_a_value_that_is_no_number_is_refused() -> None:
    with pytest.raises(TypeError):
        encode_latest([(datetime(2026, 3, 1), 1, 1, 1.0)], {datetime(2026, 3, 1)})
    with pytest.raises(struct.error):
        encode_latest([(T0, 1, 1, "high")], {T0})  # type: ignore[list-item]


async def copied_back(url: str, rows: list[Row]) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, conn.transaction():
        await conn.execute(sql.CREATE_STAGING.encode())
        async with conn.cursor().copy(COPY_LATEST) as copy:
            await copy.write(encode_latest(rows, {row[0] for row in rows}))
        cur = await conn.execute("SELECT device_key, newest_ts, oldest_ts, metric_keys, ts, value"
                                 " FROM latest_staging ORDER BY device_key")
        return list(await cur.fetchall())


async def test_timescaledb_reads_the_rows_as_encoded(pg_url: str) -> None:
    plus8 = timezone(timedelta(hours=8))
    rows: list[Row] = [
        # one message: three metrics at one time, keys not in order -> sent in key order, ts as NULL
        (T0, 40_000, 9, 1.5), (T0, 40_000, 2, -0.0), (T0, 40_000, 5, math.inf),
        # another device: times differ (and one is given in +08:00), a late reading loses
        (T0 + 2 * S, 3, 1, 5e-324), (datetime(2026, 3, 1, 20, 0, 1, 7, tzinfo=plus8), 3, 32_767, -1e308),
        (T0 - S, 3, 1, 99.0),
        (datetime(1970, 1, 1, tzinfo=UTC), 8, 1, 0.1), (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), 8, 2, 2.0**53),
    ]
    back = await copied_back(pg_url, rows)
    assert back == [
        (3, T0 + 2 * S, T0 + timedelta(microseconds=1_000_007), [1, 32_767],
         [T0 + 2 * S, T0 + timedelta(microseconds=1_000_007)], [5e-324, -1e308]),
        (8, datetime(9999, 12, 31, 23, 59, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC), [1, 2],
         [datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)], [0.1, 2.0**53]),
        (40_000, T0, T0, [2, 5, 9], None, [-0.0, math.inf, 1.5]),
    ]
    assert math.copysign(1.0, back[2][5][0]) == -1.0  # -0.0 stays negative


async def test_nan_survives(pg_url: str) -> None:
    (row,) = await copied_back(pg_url, [(T0, 1, 1, math.nan)])
    assert math.isnan(row[5][0])
