"""The journal's free-space alarm: raised when the journal nears its cap or its disk runs low, said once.

A full journal refuses messages (they stay with their sender or broker) until the store takes its
backlog; the alarm gives the operator the time to act before that: ``/health``, the metric
``streetwatch_journal_space_alarm`` and one log line when it is raised, one when it clears.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 1.0
CAP_ALARM_FRACTION = 0.9  # of journal_max_bytes


class _Spool(Protocol):
    @property
    def directory(self) -> Path: ...

    @property
    def max_bytes(self) -> int | None: ...

    @property
    def min_free_bytes(self) -> int: ...

    def size_bytes(self) -> int: ...

    def free_disk_bytes(self) -> int: ...


class SpaceAlarm:
    """Whether the journal is short of room; :meth:`check` is called as the journal works, with the time."""

    def __init__(self, spool: _Spool) -> None:
        self._spool = spool
        self.raised = False
        self.reason = ""
        self._checked_at: float | None = None

    def check(self, now: float, *, force: bool = False) -> bool:
        """Look at the journal's size and its disk (at most once a second unless ``force``); log a change."""
        if not force and self._checked_at is not None and now - self._checked_at < CHECK_INTERVAL_S:
            return self.raised
        self._checked_at = now
        spool, reason = self._spool, ""
        free = spool.free_disk_bytes()
        if free < spool.min_free_bytes:
            reason = (f"{free} byte(s) free on the journal's disk, below gateway.journal_min_free_bytes "
                      f"({spool.min_free_bytes})")
        elif spool.max_bytes is not None and spool.size_bytes() >= CAP_ALARM_FRACTION * spool.max_bytes:
            reason = (f"the journal holds {spool.size_bytes()} of its {spool.max_bytes} byte(s) "
                      "(gateway.journal_max_bytes)")
        if reason and not self.raised:
            log.error("journal in %s is short of room: %s; once full, messages are refused until the store "
                      "takes the backlog", spool.directory, reason)
        elif self.raised and not reason:
            log.info("journal in %s has room again", spool.directory)
        self.raised, self.reason = bool(reason), reason
        return self.raised
