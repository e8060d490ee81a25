"""The dead-letter recorder on a real database: hostile text is stored, one bad row never blocks the others,
and rejections are counted per row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.composition.components import all_migrations
from gateway.intake.recorder import Recorder
from gateway.intake.records import DeadLetter, GatewayRecords, StatusChange
from streetwatch import migrations
from streetwatch.clock import SystemClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database

pytestmark = pytest.mark.services
NOW = datetime.now(UTC).replace(second=10, microsecond=0)


def letter(device_id: str, payload: str, *, reason: str = "not_json", detail: str = "bad", at: datetime = NOW,
           metric: str | None = None) -> DeadLetter:
    return DeadLetter(at, device_id, f"streetwatch/devices/{device_id}/telemetry", reason, metric, detail, payload)


async def test_nul_bytes_surrogates_and_huge_ids_are_stored_and_do_not_blind_the_recorder(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrations.migrate(db, all_migrations())
        records = GatewayRecords(db)
        recorder = Recorder(records, clock=SystemClock())
        huge = "X" * 9_000
        recorder.dead_letter(letter("CG-1", "{\x00}", detail="NUL \x00 in detail"))
        recorder.dead_letter(letter("CG-2", "\udcff broken", metric="m\ud800"))
        recorder.sighting(huge, f"streetwatch/devices/{huge}/telemetry", NOW)
        recorder.status_change(StatusChange("CG-3", False, NOW, "mqtt-status", "\x00"))
        assert await recorder.flush()
        assert not recorder.failing and recorder.refused_rows == 0
        # and the recorder goes on recording
        recorder.dead_letter(letter("CG-4", "{}"))
        recorder.sighting("CG-5", "streetwatch/devices/CG-5/telemetry", NOW)
        assert await recorder.flush()

        stored = {d.device_id: d for d in await records.dead_letters()}
        assert stored["CG-1"].payload == "{\u2400}" and stored["CG-1"].detail == "NUL \u2400 in detail"
        assert stored["CG-2"].payload == "\ufffd broken" and stored["CG-2"].metric == "m\ufffd"
        assert "CG-4" in stored
        pending = {p.device_id for p in await records.pending()}
        assert pending == {huge[:127] + "…", "CG-5"}
        assert (await records.device_states())["CG-3"].detail == "\u2400"


async def test_a_row_the_database_refuses_is_dropped_alone_counted_and_shown_as_failing(fresh_pg_url: str) -> None:
    async with open_database(DatabaseUrl.parse(fresh_pg_url)) as db:
        await migrations.migrate(db, all_migrations())
        # A real refusal by the database, for one row of the batch only.
        await db.execute("ALTER TABLE gateway_dead_letters ADD CONSTRAINT no_poison CHECK (detail <> 'poison')")
        records = GatewayRecords(db)
        recorder = Recorder(records, clock=SystemClock())
        for device_id in ("CG-1", "CG-2", "CG-3"):
            recorder.dead_letter(letter(device_id, "{", detail="poison" if device_id == "CG-2" else "fine"))
        assert await recorder.flush()
        assert sorted(d.device_id for d in await records.dead_letters()) == ["CG-1", "CG-3"]
        assert recorder.refused_rows == 1 and recorder.failing  # visible until a flush is clean again
        recorder.dead_letter(letter("CG-4", "{"))
        assert await recorder.flush()
        assert not recorder.failing and recorder.buffered == 0


async def test_repeated_rejections_are_one_row_a_minute_with_their_count(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        await migrations.migrate(db, all_migrations())
        records = GatewayRecords(db)
        recorder = Recorder(records, clock=SystemClock())
        for _ in range(4):
            recorder.dead_letter(letter("CG-1", "{"))
        assert await recorder.flush()
        for _ in range(3):  # the same minute, after a flush: added to the same row
            recorder.dead_letter(letter("CG-1", "{"))
        recorder.dead_letter(letter("CG-1", "{", at=NOW + timedelta(minutes=1)))
        recorder.dead_letter(letter("CG-1", "{", reason="wrong_type", metric="battery_v"))
        assert await recorder.flush()
        letters = await records.dead_letters()
        rows = sorted(((d.received_at - NOW) // timedelta(minutes=1), d.reason, d.count) for d in letters)
        assert rows == [(0, "not_json", 7), (0, "wrong_type", 1), (1, "not_json", 1)]
        assert await records.count_dead_letters() == {"not_json": 8, "wrong_type": 1}
