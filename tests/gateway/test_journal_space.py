"""A journal has a cap and a free-space alarm; a full journal refuses records without failing, takes them again
once the store confirms its backlog, and a restart with everything stored gives all its space back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.servers import free_port
from device_drivers.mqtt import encode_telemetry
from gateway.intake.journal import Journal, JournalFull, Source
from gateway.intake.journal_status import inspect
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from telemetry_store import open_store
from tests.gateway.conftest import eventually, forget_session, http_get, mqtt_device, publisher, register

RECORD = b"x" * 1_000
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


async def fill(journal: Journal) -> int:
    appended = 0
    with pytest.raises(JournalFull, match="journal_max_bytes is 100000"):
        while True:
            await journal.append(Source.MQTT_TELEMETRY, "CG-1", RECORD, 1.7e9)
            appended += 1
    return appended


async def test_a_full_journal_refuses_then_takes_records_again(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, max_bytes=100_000) as journal:
        appended = await fill(journal)
        assert 90 <= appended < 100 and journal.size_bytes() <= 100_000
        assert journal.room_bytes() < 1_100
        assert journal.alarm.check(0.0, force=True) and "journal_max_bytes" in journal.alarm.reason
        journal.mark_stored(appended // 2)  # the store takes half of the backlog: confirmed segments go
        assert journal.size_bytes() < 80_000
        await journal.append(Source.MQTT_TELEMETRY, "CG-1", RECORD, 1.7e9)  # not a failed journal
        journal.mark_stored(journal.next_seq - 1)
        assert journal.size_bytes() <= len(RECORD) + 100  # everything stored: only the current segment is left
        assert not journal.alarm.check(1.0, force=True)


async def test_restart_of_a_full_journal_with_everything_stored_frees_it(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, max_bytes=100_000) as journal:
        appended = await fill(journal)
    # The store confirmed everything (its "stored" mark) before the gateway went down.
    (tmp_path / "stored").write_text(str(appended))
    assert inspect(tmp_path, 100_000).room_bytes < 1_100
    async with Journal.open(tmp_path, max_bytes=100_000) as journal:
        assert journal.backlog == 0 and journal.size_bytes() == 0
        assert journal.next_seq == appended + 1  # sequence numbers go on
        await journal.append(Source.MQTT_TELEMETRY, "CG-1", RECORD, 1.7e9)
    status = inspect(tmp_path, 100_000)
    assert status.backlog == 1 and 98_000 < status.room_bytes < 100_000


async def test_a_full_journal_with_a_backlog_restarts_and_keeps_it(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, max_bytes=100_000) as journal:
        appended = await fill(journal)
    async with Journal.open(tmp_path, max_bytes=100_000) as journal:
        assert journal.backlog == appended
        assert [r.seq for r in journal.read_from(1, limit=1_000)] == list(range(1, appended + 1))


async def test_low_disk_raises_the_alarm(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, min_free_bytes=2**62) as journal:
        assert journal.alarm.check(0.0, force=True)
        assert "journal_min_free_bytes" in journal.alarm.reason


@pytest.mark.services
async def test_gateway_restarts_on_a_full_journal_and_says_how_much_room_is_left(mqtt_url: str,
                                                                               tmp_path: Path) -> None:
    """A journal full to its cap with everything stored, then ``streetwatch run`` as a real process: it starts,
    takes new messages into the store, and ``/health`` and ``ingest status`` tell the room left."""
    data = tmp_path / "data"
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    async with Journal.open(data / "journal", max_bytes=100_000) as journal:
        appended = await fill(journal)
        journal.mark_stored(appended - 1)
    (data / "journal" / "stored").write_text(str(appended))  # the store had confirmed every record
    device = f"CG-{uuid.uuid4().hex[:8]}"
    await register(database_url, [mqtt_device(device)])
    api_port, client_id = free_port(), f"gw-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "STREETWATCH_DATABASE_URL": database_url, "STREETWATCH_MQTT_URL": mqtt_url,
           "STREETWATCH_DATA_DIR": str(data), "STREETWATCH_MQTT__CLIENT_ID": client_id,
           "STREETWATCH_GATEWAY__METRICS_PORT": "0", "STREETWATCH_GATEWAY__API_PORT": str(api_port),
           "STREETWATCH_GATEWAY__JOURNAL_MAX_BYTES": "100000"}
    with (tmp_path / "gateway.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway", "run", "--no-modbus", env=env,
                                                    stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        async def health() -> dict[str, object] | None:
            try:
                status, body = await http_get(f"http://127.0.0.1:{api_port}/health")
            except OSError:
                return None
            return json.loads(body) if status == 200 else None

        await eventually(lambda: _is_dict(health()), timeout_s=30, what="the gateway serving")
        async with publisher(mqtt_url) as client:
            for index in range(200):  # 200 records of ~1 KB: twice what the full journal had room for
                await client.publish(topics.telemetry(device), encode_telemetry(
                    {"water_level_mm": index, "battery_v": 3.7}, T0 + timedelta(seconds=index)), qos=1)

        async def all_stored() -> bool:
            async with open_store(DatabaseUrl.parse(database_url)) as store:
                return len(await store.history(device, "water_level_mm", T0, T0 + timedelta(hours=1))) == 200

        await eventually(all_stored, timeout_s=30, what="the new messages stored")
        body = await health()
        assert body is not None and body["journal_space_alarm"] is False
        assert 0 < int(str(body["journal_room_bytes"])) <= 100_000
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
        await forget_session(mqtt_url, client_id)
    assert code == 0, (tmp_path / "gateway.log").read_text()[-2000:]
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway", "ingest", "status", "--format", "json"], env=env,
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60)
    rows = {row["what"]: row["value"] for row in json.loads(result.stdout)}
    assert rows["spool backlog (journal records not in the store)"] == 0
    assert 50_000 < rows["spool room left (bytes: journal_max_bytes and free disk)"] <= 100_000


async def _is_dict(awaitable: Awaitable[object]) -> bool:
    return isinstance(await awaitable, dict)
