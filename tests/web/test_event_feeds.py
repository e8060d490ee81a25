"""The feeds the event stream reads: positions, and rows held back behind an id that has not committed yet."""

from __future__ import annotations

import psycopg
import pytest

from gateway.intake.schema import MIGRATIONS as GATEWAY_MIGRATIONS
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from streetwatch.migrations import migrate
from web.event_feeds import DEVICE_ROWS, Cursor, FeedReader

INSERT = ("INSERT INTO gateway_device_events (device_id, at, online, source, detail) "
          "VALUES (%s, now(), false, 'modbus', '') RETURNING id")


@pytest.mark.parametrize(("text", "cursor"), [
    ("4711-233", Cursor(4711, 233)), ("4711", Cursor(4711, None)), ("0-0", Cursor(0, 0)),
    ("yesterday", None), ("-3", None), ("1-2-3", None), ("99999999999999999999", None), ("", None),
    (f"{2**63}-1", None)])
def test_an_event_id_is_a_position_in_both_feeds(text: str, cursor: Cursor | None) -> None:
    assert Cursor.parse(text) == cursor
    if cursor is not None and cursor.device is not None:
        assert str(cursor) == text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.services
async def test_an_id_committed_after_a_later_one_is_not_skipped_and_a_rolled_back_one_is_waited_out(
        fresh_pg_url: str) -> None:
    clock = Clock()
    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        await migrate(db, GATEWAY_MIGRATIONS)
        reader = FeedReader(DEVICE_ROWS, 0, gap_wait_s=2.0, monotonic=clock)
        with psycopg.connect(fresh_pg_url) as slow, psycopg.connect(fresh_pg_url, autocommit=True) as fast:
            first = slow.execute(INSERT, ("LP-1",)).fetchone()
            second = fast.execute(INSERT, ("LP-2",)).fetchone()
            assert first is not None and second is not None and first[0] < second[0]
            assert await reader.read(db) == []  # the later id is committed, the earlier not yet: wait
            clock.now = 1.0
            assert await reader.read(db) == []
            slow.commit()
            assert [row["device_id"] for row in await reader.read(db)] == ["LP-1", "LP-2"]

            slow.execute(INSERT, ("LP-3",))
            slow.rollback()  # its id never commits
            fast.execute(INSERT, ("LP-4",))
            assert await reader.read(db) == []
            clock.now = 2.9
            assert await reader.read(db) == []
            clock.now = 3.1  # open for the whole wait: settled
            assert [row["device_id"] for row in await reader.read(db)] == ["LP-4"]
            fast.execute(INSERT, ("LP-5",))
            assert [row["device_id"] for row in await reader.read(db)] == ["LP-5"]
