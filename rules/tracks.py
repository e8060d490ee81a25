"""The state of every (rule, subject) pair and the timers of their pending changes.

A subject is a device id, or ``site:<name>``-style for a group rule. A track is created on the
first evaluation; its debouncer's next due time is kept in one heap for all tracks, so
``tick(now)`` finds what is due without looking at the rest.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from rules.evidence import NORMAL_EVIDENCE, Evidence
from rules.persistence import Debouncer
from rules.runtime import Runtime


class Track(Debouncer):
    """A rule's state for one subject: its debouncer, what it last saw, and when its pending change is due.

    One object with the debouncer's own fields, not a track holding a debouncer: 80,000 offline devices
    each keep a track of their offline rule while its alert is open (issue #21).
    """

    __slots__ = ("due", "evidence", "rule", "subject")

    def __init__(self, rule: str, subject: str, evidence: Evidence, *, levels: int, raise_after_s: float = 0.0,
                 clear_after_s: float = 0.0, now: float = 0.0) -> None:
        super().__init__(levels=levels, raise_after_s=raise_after_s, clear_after_s=clear_after_s, now=now)
        self.rule = rule
        self.subject = subject
        self.evidence = evidence
        self.due: float | None = None

    @property
    def debouncer(self) -> Debouncer:
        """The debouncer of the track: the track itself."""
        return self


class Tracks:
    def __init__(self) -> None:
        self._by_rule: dict[str, dict[str, Track]] = {}
        self._timers: list[tuple[float, int, str, str]] = []
        self._order = itertools.count()

    def get(self, rule: str, subject: str) -> Track | None:
        return self._by_rule.get(rule, {}).get(subject)

    def of_rule(self, rule: str) -> dict[str, Track]:
        return self._by_rule.get(rule, {})

    def pop_rule(self, rule: str) -> list[Track]:
        return list(self._by_rule.pop(rule, {}).values())

    def rules(self) -> list[str]:
        return list(self._by_rule)

    def ensure(self, rt: Runtime, subject: str, t: float, levels: int) -> Track:
        """The track of ``rt`` for ``subject``, created normal at ``t`` if new."""
        tracks = self._by_rule.get(rt.spec.name)
        if tracks is None:
            tracks = self._by_rule[rt.spec.name] = {}
        track = tracks.get(subject)
        if track is None:
            track = tracks[subject] = Track(rt.spec.name, subject, NORMAL_EVIDENCE, levels=levels,
                                            raise_after_s=rt.spec.for_s, clear_after_s=rt.spec.clear_for_s, now=t)
        return track

    def remove(self, rule: str, subject: str) -> Track | None:
        return self._by_rule.get(rule, {}).pop(subject, None)

    def schedule(self, track: Track) -> None:
        """Remember when the track's pending change falls due (if it has one)."""
        due = track.debouncer.next_due()
        if due != track.due:
            track.due = due
            if due is not None:
                heapq.heappush(self._timers, (due, next(self._order), track.rule, track.subject))

    def due(self, t: float) -> Iterator[Track]:
        """The tracks whose pending change is due at ``t``; superseded timers are skipped."""
        while self._timers and self._timers[0][0] <= t:
            due, _, rule, subject = heapq.heappop(self._timers)
            track = self.get(rule, subject)
            if track is not None and track.due == due:
                track.due = None
                yield track
