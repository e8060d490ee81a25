"""What a journal directory holds and how much room it has left, read without opening it (a gateway may be
writing it): for ``streetwatch ingest status``."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from gateway.intake.journal_format import _SEGMENT_SUFFIX, _read_records


@dataclass(frozen=True, slots=True)
class JournalStatus:
    """What a journal directory holds, read without opening it (a gateway may be writing it)."""

    directory: Path
    segments: int
    size_bytes: int
    stored_seq: int
    last_seq: int
    free_disk_bytes: int
    max_bytes: int | None = None

    @property
    def room_bytes(self) -> int:
        """How much more the journal can take: up to its cap and to the free space on its disk."""
        if self.max_bytes is None:
            return self.free_disk_bytes
        return max(0, min(self.free_disk_bytes, self.max_bytes - self.size_bytes))

    @property
    def backlog(self) -> int:
        """Records the store has not confirmed."""
        return max(0, self.last_seq - self.stored_seq)


def inspect(directory: Path, max_bytes: int | None = None) -> JournalStatus:
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
    existing = next((p for p in (directory, *directory.parents) if p.exists()), Path("/"))
    return JournalStatus(directory, len(segments), size, stored, last, shutil.disk_usage(existing).free, max_bytes)
