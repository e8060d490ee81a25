"""Messages a channel took while the database could not record it: kept on local disk until it can.

The deliverer marks an outbox row sent right after its channel took the message. When the database is
down at that moment, the mark waits; if the gateway is stopped before the database is back, a mark kept
only in memory would be lost and the message sent again after the restart. So each waiting mark is also
appended to a small file (flushed and fsynced before the deliverer goes on), read back at start, and the
file is emptied once every mark in it is in the database.

>>> marks = PendingMarks(tmp / "sent-unrecorded.log")   # doctest: +SKIP
>>> marks.add(42, now); marks.load()                      # doctest: +SKIP
{42: now}
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


class PendingMarks:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[int, datetime]:
        """The marks still waiting (row id → when it was sent); a line that cannot be read is skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        found: dict[int, datetime] = {}
        for number, line in enumerate(text.splitlines(), 1):
            row, _, at = line.partition(" ")
            try:
                found[int(row)] = datetime.fromisoformat(at)
            except ValueError:
                log.warning("%s:%d: not a sent mark, skipped: %r", self.path, number, line[:80])
        return found

    def add(self, row_id: int, at: datetime) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(f"{row_id} {at.isoformat()}\n")
            file.flush()
            os.fsync(file.fileno())

    def clear(self) -> None:
        """Every mark is in the database now."""
        self.path.unlink(missing_ok=True)
