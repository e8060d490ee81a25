"""The state of every (rule, subject) pair and the timers of their pending changes.

A subject is a device id, or ``site:<name>``-style for a group rule. A track is created on the
first evaluation; its debouncer's next due time is kept in one heap for all tracks, so
``tick(now)`` finds what is due without looking at the rest.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from rules.evidence import Evidence
from rules.persistence import Debouncer
from rules.runtime import Runtime


@dataclass(slots=True)
class Track:
    rule: str
    subject: str
    debouncer: Debouncer
    evidence: Evidence
    due: float | None = None


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
            debouncer = Debouncer(levels=levels, raise_after_s=rt.spec.for_s, clear_after_s=rt.spec.clear_for_s, now=t)
            track = tracks[subject] = Track(rt.spec.name, subject, debouncer, Evidence(0))
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
