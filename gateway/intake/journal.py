"""The gateway's durable journal: every accepted message is on disk before it is acknowledged.

MQTT messages are appended as they arrived (topic's device id, payload bytes, receive time);
Modbus polls as the values they read. Appends are group-committed: many appends share one fsync,
so acknowledging a QoS 1 message costs milliseconds, not a database round trip.

The store writer takes fresh records from memory and confirms them with :meth:`Journal.mark_stored`.
When the store was down, or after a restart, it reads the records it has not confirmed back from
disk with :meth:`Journal.read_from`, in order. Segments wholly confirmed are deleted, so the
journal's size is what the store has not taken yet: the spool that grows during an outage.

Layout: ``<dir>/<first sequence number>.journal`` segment files of records

    u32 body length | u32 crc32(seq + body) | u64 seq | body

with body ``f64 received_at | u8 source | u16 device id length | device id | payload``, and
``<dir>/stored`` holding the highest sequence number the store has confirmed. A record torn by a
crash (short or failing its CRC) ends the journal; it was never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<IIQ")
_BODY_HEAD = struct.Struct("<dBH")
_SEGMENT_SUFFIX = ".journal"
_MAX_BODY = 16 * 1024 * 1024


class Source(IntEnum):
    """Where a record came from; decides how its payload is parsed."""

    MQTT_TELEMETRY = 1
    MODBUS_POLL = 2


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    received_at: float  # seconds since the epoch, UTC
    source: Source
    device_id: str
    payload: bytes


class JournalError(GatewayError):
    """The journal cannot be written (disk full, permissions): nothing more can be acknowledged."""


def _encode(seq: int, received_at: float, source: Source, device_id: str, payload: bytes) -> bytes:
    device = device_id.encode()
    body = _BODY_HEAD.pack(received_at, source, len(device)) + device + payload
    crc = zlib.crc32(body, zlib.crc32(seq.to_bytes(8, "little")))
    return _HEADER.pack(len(body), crc, seq) + body


def _read_records(path: Path, start: int = 0, chunk_bytes: int = 1 << 20) -> Iterator[tuple[int, Record]]:
    """Yield (file offset after the record, record) for every intact record of one segment from byte ``start``.

    Reads the file in chunks, so a reader that stops early reads little of a large segment.
    """
    with path.open("rb") as fh:
        fh.seek(start)
        buf, base, pos = b"", start, 0  # buf[0] is at file offset base
        while True:
            need = _HEADER.size
            if len(buf) - pos >= _HEADER.size:
                length, crc, seq = _HEADER.unpack_from(buf, pos)
                if length > _MAX_BODY:
                    return
                need = _HEADER.size + length
                if len(buf) - pos >= need:
                    body = buf[pos + _HEADER.size : pos + need]
                    if zlib.crc32(body, zlib.crc32(seq.to_bytes(8, "little"))) != crc:
                        return
                    received_at, source, device_len = _BODY_HEAD.unpack_from(body)
                    head = _BODY_HEAD.size
                    device_id = body[head : head + device_len].decode()
                    pos += need
                    yield base + pos, Record(seq, received_at, Source(source), device_id, body[head + device_len :])
                    continue
            chunk = fh.read(max(chunk_bytes, need))
            if not chunk:
                return
            buf, base, pos = buf[pos:] + chunk, base + pos, 0


class Journal:
    """An append-only, group-committed journal in one directory.

    >>> async with Journal.open(tmp_path / "journal") as journal:   # doctest: +SKIP
    ...     seq = await journal.append(Source.MQTT_TELEMETRY, "CG-1", b'{"water_level_mm": 412}', 1.7e9)
    ...     journal.mark_stored(seq)
    """

    def __init__(self, directory: Path, *, fsync_interval_s: float, segment_bytes: int) -> None:
        self.directory = directory
        self._fsync_interval_s = fsync_interval_s
        self._segment_bytes = segment_bytes
        self._segments: list[tuple[int, Path]] = []  # (first seq, path), oldest first
        self._file: BinaryIO | None = None
        self._file_bytes = 0
        self._next_seq = 1
        self._stored_seq = 0
        self._stored_written = 0
        self._pending: asyncio.Future[None] | None = None
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        # Where the last read_from stopped: (next seq, segment, byte offset), so a reader catching
        # up through a long segment does not parse it from its start at every call.
        self._cursor: tuple[int, Path, int] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, directory: Path, *, fsync_interval_s: float = 0.005, segment_bytes: int = 64 * 1024 * 1024
    ) -> AsyncIterator[Journal]:
        journal = cls(directory, fsync_interval_s=fsync_interval_s, segment_bytes=segment_bytes)
        try:
            journal._recover()
        except OSError as exc:
            raise JournalError(f"cannot open the journal in {directory}: {exc.strerror or exc}") from exc
        journal._flusher = asyncio.create_task(journal._flush_loop(), name="journal-fsync")
        try:
            yield journal
        finally:
            journal._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await journal._flusher
            journal._sync_now()
            journal._write_stored()
            if journal._file is not None:
                journal._file.close()

    # -- state -----------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def stored_seq(self) -> int:
        """Every record up to this sequence number is in the store."""
        return self._stored_seq

    @property
    def backlog(self) -> int:
        """Records appended but not yet confirmed by the store."""
        return self._next_seq - 1 - self._stored_seq

    def size_bytes(self) -> int:
        total = 0
        for _, path in self._segments:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    # -- writing ---------------------------------------------------------------------------------

    async def append(self, source: Source, device_id: str, payload: bytes, received_at: float) -> int:
        """Append one record; return its sequence number once it is on disk."""
        seq = self.append_nowait(source, device_id, payload, received_at)
        await self.sync()
        return seq

    def append_nowait(self, source: Source, device_id: str, payload: bytes, received_at: float) -> int:
        """Append one record to the file buffer; :meth:`sync` makes it durable."""
        if self._failure is not None:
            raise JournalError(f"journal in {self.directory} failed: {self._failure}") from self._failure
        seq = self._next_seq
        record = _encode(seq, received_at, source, device_id, payload)
        if self._file is None or self._file_bytes + len(record) > self._segment_bytes:
            self._roll(seq)
        assert self._file is not None
        try:
            self._file.write(record)
        except OSError as exc:
            self._failure = exc
            raise JournalError(f"cannot write the journal in {self.directory}: {exc}") from exc
        self._file_bytes += len(record)
        self._next_seq = seq + 1
        return seq

    def sync_soon(self) -> None:
        """Have what was appended so far fsynced shortly, without waiting for it."""
        self._wakeup.set()

    async def sync(self) -> None:
        """Wait until everything appended so far is fsynced (shared by all waiting appenders)."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
            self._wakeup.set()
        await asyncio.shield(self._pending)

    async def _flush_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            # Let more appenders join this commit before paying for the fsync.
            await asyncio.sleep(self._fsync_interval_s)
            self._wakeup.clear()
            pending, self._pending = self._pending, None
            try:
                await asyncio.to_thread(self._sync_now)
            except OSError as exc:
                self._failure = exc
                if pending is not None and not pending.done():
                    pending.set_exception(JournalError(f"cannot fsync the journal in {self.directory}: {exc}"))
                continue
            if pending is not None and not pending.done():
                pending.set_result(None)
            self._write_stored()

    def _sync_now(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def _roll(self, first_seq: int) -> None:
        if self._file is not None:
            self._sync_now()
            self._file.close()
        path = self.directory / f"{first_seq:020d}{_SEGMENT_SUFFIX}"
        self._file = path.open("ab")
        self._file_bytes = 0
        self._segments.append((first_seq, path))
        self._fsync_directory()

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- confirming and reading back -------------------------------------------------------------

    def mark_stored(self, seq: int) -> None:
        """The store holds every record up to ``seq``: fully confirmed segments can go."""
        if seq <= self._stored_seq:
            return
        self._stored_seq = min(seq, self._next_seq - 1)
        while len(self._segments) > 1 and self._segments[1][0] - 1 <= self._stored_seq:
            _, path = self._segments.pop(0)
            path.unlink(missing_ok=True)

    def _write_stored(self) -> None:
        # Losing this file only means replaying more on restart; the store ignores duplicates.
        if self._stored_written == self._stored_seq:
            return
        tmp = self.directory / "stored.tmp"
        tmp.write_text(str(self._stored_seq))
        os.replace(tmp, self.directory / "stored")
        self._stored_written = self._stored_seq

    def read_from(self, seq: int, limit: int = 10_000, max_bytes: int = 8 * 1024 * 1024) -> list[Record]:
        """Up to ``limit`` intact records (about ``max_bytes`` of payload) with sequence number ≥ ``seq``,
        in order (flushes first)."""
        if self._file is not None:
            self._file.flush()
        records, cursor = self._read(seq, limit, max_bytes, list(self._segments), self._cursor)
        self._cursor = cursor
        return records

    async def read_from_async(self, seq: int, limit: int = 10_000, max_bytes: int = 8 * 1024 * 1024) -> list[Record]:
        """:meth:`read_from` with the file reading done in a worker thread, off the event loop."""
        if self._file is not None:
            self._file.flush()
        records, cursor = await asyncio.to_thread(self._read, seq, limit, max_bytes, list(self._segments),
                                                  self._cursor)
        self._cursor = cursor
        return records

    @staticmethod
    def _read(seq: int, limit: int, max_bytes: int, segments: list[tuple[int, Path]],
              cursor: tuple[int, Path, int] | None) -> tuple[list[Record], tuple[int, Path, int] | None]:
        # Only files are touched here, so it may run in a worker thread: appends only add whole
        # records after the flush, and only segments wholly confirmed (below ``seq``) are deleted.
        records: list[Record] = []
        size = 0
        last: tuple[Path, int] | None = None
        for index, (_, path) in enumerate(segments):
            following = segments[index + 1][0] if index + 1 < len(segments) else None
            if following is not None and following <= seq:
                continue
            start = cursor[2] if cursor is not None and cursor[0] == seq and cursor[1] == path else 0
            try:
                for end, record in _read_records(path, start):
                    if record.seq < seq:
                        continue
                    records.append(record)
                    size += len(record.payload)
                    last = (path, end)
                    if len(records) >= limit or size >= max_bytes:
                        break
            except FileNotFoundError:
                continue
            if len(records) >= limit or size >= max_bytes:
                break
        if last is None:
            return records, cursor
        return records, (records[-1].seq + 1, last[0], last[1])

    def _recover(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stored = self.directory / "stored"
        if stored.exists():
            with contextlib.suppress(ValueError):
                self._stored_seq = self._stored_written = int(stored.read_text().strip() or 0)
        segments = sorted(self.directory.glob(f"*{_SEGMENT_SUFFIX}"))
        self._segments = [(int(p.name.removesuffix(_SEGMENT_SUFFIX)), p) for p in segments]
        last_seq = self._stored_seq
        for index, (_first, path) in enumerate(self._segments):
            good_end = 0
            for end, record in _read_records(path):
                good_end, last_seq = end, max(last_seq, record.seq)
            if path.stat().st_size != good_end:
                if index != len(self._segments) - 1:
                    log.error("journal segment %s is damaged in the middle; records after byte %d are lost",
                              path, good_end)
                else:
                    log.warning("journal %s ends with a torn record (a crash while writing); cutting it off", path)
                with path.open("r+b") as fh:
                    fh.truncate(good_end)
        self._next_seq = last_seq + 1
        if self._segments:
            _, path = self._segments[-1]
            self._file = path.open("ab")
            self._file_bytes = path.stat().st_size
        self.mark_stored(self._stored_seq)
        if self.backlog:
            log.info("journal in %s holds %d record(s) not yet in the store", self.directory, self.backlog)


@dataclass(frozen=True, slots=True)
class JournalStatus:
    """What a journal directory holds, read without opening it (a gateway may be writing it)."""

    directory: Path
    segments: int
    size_bytes: int
    stored_seq: int
    last_seq: int

    @property
    def backlog(self) -> int:
        """Records the store has not confirmed."""
        return max(0, self.last_seq - self.stored_seq)


def inspect(directory: Path) -> JournalStatus:
    """The journal's size and backlog, read-only (nothing is truncated or created)."""
    segments = sorted(directory.glob(f"*{_SEGMENT_SUFFIX}")) if directory.is_dir() else []
    stored = 0
    with contextlib.suppress(FileNotFoundError, ValueError):
        stored = int((directory / "stored").read_text().strip() or 0)
    size = 0
    for path in segments:
        with contextlib.suppress(FileNotFoundError):
            size += path.stat().st_size
    last = stored
    for path in reversed(segments):
        with contextlib.suppress(FileNotFoundError):
            for _, record in _read_records(path):
                last = max(last, record.seq)
            if last > stored or path == segments[0]:
                break
    return JournalStatus(directory, len(segments), size, stored, last)
