"""The journal keeps every acknowledged record through crashes, and forgets what the store took."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from gateway.intake.journal import Journal, Source
from gateway.intake.journal_status import inspect


async def test_append_read_back_in_order(tmp_path: Path) -> None:
    async with Journal.open(tmp_path) as journal:
        seqs = [await journal.append(Source.MQTT_TELEMETRY, f"CG-{i}", f'{{"v": {i}}}'.encode(), 1e9 + i)
                for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        records = journal.read_from(3)
    assert [(r.seq, r.device_id, r.payload, r.received_at) for r in records] == [
        (3, "CG-2", b'{"v": 2}', 1e9 + 2), (4, "CG-3", b'{"v": 3}', 1e9 + 3), (5, "CG-4", b'{"v": 4}', 1e9 + 4)]
    assert all(r.source is Source.MQTT_TELEMETRY for r in records)


async def test_concurrent_appends_share_fsyncs_and_all_land(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, fsync_interval_s=0.002) as journal:
        seqs = await asyncio.gather(*(journal.append(Source.MODBUS_POLL, "LP-1", b"x" * i, 1.0)
                                      for i in range(500)))
        assert sorted(seqs) == list(range(1, 501))
        assert journal.backlog == 500
    async with Journal.open(tmp_path) as journal:
        assert journal.next_seq == 501
        assert len(journal.read_from(1, limit=1000)) == 500


async def test_confirmed_segments_are_deleted_and_not_replayed(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, segment_bytes=200) as journal:
        for i in range(20):
            await journal.append(Source.MQTT_TELEMETRY, "CG-1", b"0123456789" * 3, float(i))
        segments_before = len(list(tmp_path.glob("*.journal")))
        size_before = journal.size_bytes()
        journal.mark_stored(15)
        assert len(list(tmp_path.glob("*.journal"))) < segments_before
        assert journal.size_bytes() < size_before
        assert journal.backlog == 5
    async with Journal.open(tmp_path, segment_bytes=200) as journal:
        assert journal.stored_seq == 15
        assert [r.seq for r in journal.read_from(journal.stored_seq + 1)] == [16, 17, 18, 19, 20]
        assert await journal.append(Source.MQTT_TELEMETRY, "CG-1", b"next", 0.0) == 21


async def test_torn_tail_is_cut_off_and_numbering_continues(tmp_path: Path) -> None:
    async with Journal.open(tmp_path) as journal:
        for i in range(3):
            await journal.append(Source.MQTT_TELEMETRY, "CG-1", b"payload", float(i))
    segment = next(tmp_path.glob("*.journal"))
    whole = segment.read_bytes()
    segment.write_bytes(whole + whole[:17])  # half a record, as a crash mid-write leaves it
    async with Journal.open(tmp_path) as journal:
        assert [r.seq for r in journal.read_from(1)] == [1, 2, 3]
        assert await journal.append(Source.MQTT_TELEMETRY, "CG-1", b"after", 0.0) == 4
        assert [r.payload for r in journal.read_from(4)] == [b"after"]


async def test_corrupted_record_ends_the_journal(tmp_path: Path) -> None:
    async with Journal.open(tmp_path) as journal:
        for _ in range(3):
            await journal.append(Source.MQTT_TELEMETRY, "CG-1", b"payload", 0.0)
    segment = next(tmp_path.glob("*.journal"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # flip bits in the last record's payload
    segment.write_bytes(bytes(data))
    async with Journal.open(tmp_path) as journal:
        assert [r.seq for r in journal.read_from(1)] == [1, 2]


def test_every_acknowledged_record_survives_sigkill(tmp_path: Path) -> None:
    """A writer process prints each sequence number once append() returned; SIGKILL it mid-stream."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from gateway.intake.journal import Journal, Source

        async def main():
            async with Journal.open(Path({str(tmp_path)!r})) as journal:
                i = 0
                while True:
                    seq = await journal.append(Source.MQTT_TELEMETRY, "CG-1", str(i).encode(), 0.0)
                    print(seq, flush=True)
                    i += 1
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= 300:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acknowledged += [int(line) for line in proc.stdout.read().split()]

    async def reopen() -> list[tuple[int, bytes]]:
        async with Journal.open(tmp_path) as journal:
            return [(r.seq, r.payload) for r in journal.read_from(1, limit=1_000_000)]

    kept = asyncio.run(reopen())
    assert len(acknowledged) >= 300
    assert set(acknowledged) <= {seq for seq, _ in kept}
    assert kept == [(seq, str(seq - 1).encode()) for seq in range(1, len(kept) + 1)]


async def test_reading_on_in_pieces_across_segments_gives_every_record_once(tmp_path: Path) -> None:
    async with Journal.open(tmp_path, segment_bytes=300) as journal:
        for i in range(60):
            journal.append_nowait(Source.MQTT_TELEMETRY, f"CG-{i % 3}", str(i).encode() * (1 + i % 4), float(i))
        await journal.sync()
        assert len(list(tmp_path.glob("*.journal"))) > 5
        pieces: list[int] = []
        seq = 1
        while records := await journal.read_from_async(seq, limit=7):
            pieces += [r.seq for r in records]
            seq = records[-1].seq + 1
        assert pieces == list(range(1, 61))
        assert [r.payload for r in journal.read_from(59)] == [b"58" * 3, b"59" * 4]
        journal.append_nowait(Source.MQTT_TELEMETRY, "CG-0", b"late", 0.0)  # appended after a read reached the end
        assert [r.payload for r in await journal.read_from_async(61)] == [b"late"]


async def test_inspect_reads_size_and_backlog_without_opening(tmp_path: Path) -> None:
    assert inspect(tmp_path / "none").backlog == 0
    async with Journal.open(tmp_path, segment_bytes=200) as journal:
        for i in range(10):
            await journal.append(Source.MODBUS_POLL, "LP-1", b"0123456789" * 3, float(i))
        journal.mark_stored(4)
    status = inspect(tmp_path)
    assert (status.stored_seq, status.last_seq, status.backlog) == (4, 10, 6)
    assert status.size_bytes == sum(p.stat().st_size for p in tmp_path.glob("*.journal")) > 0
