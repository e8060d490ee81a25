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
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from gateway.errors import GatewayError
from gateway.intake.journal_format import _MIN_SEGMENT, _SEGMENT_SUFFIX, Record, Source, _encode, _read_records
from gateway.intake.journal_space import SpaceAlarm

__all__ = ["Journal", "JournalError", "JournalFull", "Record", "Source"]

log = logging.getLogger(__name__)

# Appends land in the file object's buffer, written out when it fills and before every fsync. With
# the default 8 kB a busy intake made a write() system call every 50 records or so; 1 MB makes it one
# a group commit. Nothing changes for a crash: a record is durable at the fsync, never before, and
# no message is acknowledged before its fsync.
_WRITE_BUFFER = 1 << 20

class JournalError(GatewayError):
    """The journal cannot be written (disk full, permissions): nothing more can be acknowledged."""


class JournalFull(JournalError):
    """The journal holds ``max_bytes`` (its cap): this record is refused until the store takes the backlog.

    Unlike other journal errors this one passes: the journal takes records again as soon as the
    store confirms enough of them. The message that did not fit is not acknowledged, so its sender
    or broker keeps it.
    """



class Journal:
    """An append-only, group-committed journal in one directory.

    >>> async with Journal.open(tmp_path / "journal") as journal:   # doctest: +SKIP
    ...     seq = await journal.append(Source.MQTT_TELEMETRY, "CG-1", b'{"water_level_mm": 412}', 1.7e9)
    ...     journal.mark_stored(seq)
    """

    def __init__(self, directory: Path, *, fsync_interval_s: float, segment_bytes: int,
                 max_bytes: int | None = None, min_free_bytes: int = 0) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self._fsync_interval_s = fsync_interval_s
        # Under a cap, segments of a quarter of it: confirmed space comes back in pieces, not all at the end.
        self._segment_bytes = segment_bytes if max_bytes is None else max(_MIN_SEGMENT, min(segment_bytes,
                                                                                            max_bytes // 4))
        self._closed_bytes = 0  # the segments before the current one
        self._syncing = False
        self.alarm = SpaceAlarm(self)
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
        cls, directory: Path, *, fsync_interval_s: float = 0.005, segment_bytes: int = 64 * 1024 * 1024,
        max_bytes: int | None = None, min_free_bytes: int = 0,
    ) -> AsyncIterator[Journal]:
        journal = cls(directory, fsync_interval_s=fsync_interval_s, segment_bytes=segment_bytes,
                      max_bytes=max_bytes, min_free_bytes=min_free_bytes)
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
        """Bytes the journal's segments hold (kept as they are written, no file system call)."""
        return self._closed_bytes + self._file_bytes

    def free_disk_bytes(self) -> int:
        """Free space on the journal's file system, for the free-space alarm."""
        return shutil.disk_usage(self.directory).free

    def room_bytes(self) -> int:
        """How much more the journal can take: up to its cap and to the free space on its disk."""
        free = self.free_disk_bytes()
        return free if self.max_bytes is None else max(0, min(free, self.max_bytes - self.size_bytes()))

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
        if self.max_bytes is not None and self.size_bytes() + len(record) > self.max_bytes:
            self._drop_if_all_stored()
            if self.size_bytes() + len(record) > self.max_bytes:
                raise JournalFull(f"the journal in {self.directory} is full: {self.size_bytes()} bytes, "
                                  f"gateway.journal_max_bytes is {self.max_bytes}; {self.backlog} record(s) "
                                  "wait for the store")
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
            self._syncing = True
            try:
                await asyncio.to_thread(self._sync_now)
            except OSError as exc:
                self._failure = exc
                if pending is not None and not pending.done():
                    pending.set_exception(JournalError(f"cannot fsync the journal in {self.directory}: {exc}"))
                continue
            finally:
                self._syncing = False
            if pending is not None and not pending.done():
                pending.set_result(None)
            self._write_stored()
            self._reclaim()
            self.alarm.check(asyncio.get_running_loop().time())

    def _sync_now(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def _roll(self, first_seq: int) -> None:
        if self._file is not None:
            self._sync_now()
            self._file.close()
            self._closed_bytes += self._file_bytes
        path = self.directory / f"{first_seq:020d}{_SEGMENT_SUFFIX}"
        self._file = path.open("ab", buffering=_WRITE_BUFFER)
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
            self._closed_bytes -= self._unlink(path)
        self._reclaim()

    def _reclaim(self) -> None:
        # Past half the cap, an all-stored journal drops its current segment too (not at every commit:
        # a new file per group commit would cost a directory fsync each time).
        if self.max_bytes is not None and self.size_bytes() > self.max_bytes // 2:
            self._drop_if_all_stored()

    @staticmethod
    def _unlink(path: Path) -> int:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def _drop_if_all_stored(self) -> None:
        """Delete every segment when the store holds all they carry: the space comes back at once, even
        the current segment's (a full disk or a full cap must not outlive its backlog)."""
        if self.backlog or not self._segments or self._syncing or self._failure is not None:
            return
        if self._file is not None:
            self._file.close()  # nothing in it is needed any more, flushed or not
            self._file = None
        for _, path in self._segments:
            self._unlink(path)
        self._segments, self._closed_bytes, self._file_bytes, self._cursor = [], 0, 0, None

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
        self.mark_stored(self._stored_seq)
        if not self.backlog:
            # Everything is in the store: start afresh. On a full disk this is what lets the gateway start.
            for _, path in self._segments:
                self._unlink(path)
            self._segments = []
        elif self._segments:
            *_closed, (_, path) = self._segments
            self._closed_bytes = sum(p.stat().st_size for _, p in _closed)
            self._file = path.open("ab", buffering=_WRITE_BUFFER)
            self._file_bytes = path.stat().st_size
        if self.backlog:
            log.info("journal in %s holds %d record(s) not yet in the store", self.directory, self.backlog)
