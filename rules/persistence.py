"""``for`` and ``clear_for``: a change of severity counts only once it has lasted.

A :class:`Debouncer` is fed the *raw* severity rank a rule sees (0 normal, 1…N) with the time, and
keeps the *settled* rank that alerts follow. Going up to rank k needs the raw rank at k or above
for ``raise_after_s``; going down to rank j needs it at j or below for ``clear_after_s``. So a
yellow that turns orange escalates once orange has lasted, and a red that falls to yellow
de-escalates to yellow (not to normal) once that has lasted.

>>> d = Debouncer(levels=4, raise_after_s=30, clear_after_s=300)
>>> d.observe(2, 0.0); d.settle(0.0)
0
>>> d.settle(30.0)
2
"""

from __future__ import annotations


class Debouncer:
    """Raw rank in, settled rank out; times are seconds on any one clock."""

    __slots__ = ("clear_after_s", "level", "levels", "raise_after_s", "raw", "run_start")

    def __init__(self, *, levels: int, raise_after_s: float = 0.0, clear_after_s: float = 0.0,
                 level: int = 0, now: float = 0.0) -> None:
        self.levels = levels
        self.raise_after_s = raise_after_s
        self.clear_after_s = clear_after_s
        self.level = level
        self.raw = level
        # run_start[k]: since when the raw rank has been (continuously) on its current side of k,
        # i.e. ≥ k if raw ≥ k, else < k. Index 0 is unused. A tuple, replaced when the raw rank changes
        # (rarely): smaller than a list, and a track is kept per offline device (issue #21).
        self.run_start: tuple[float, ...] = (now,) * (levels + 1)

    def observe(self, raw: int, now: float) -> None:
        """Record the raw rank seen at ``now``."""
        previous = self.raw
        if raw != previous:
            low, high = (previous, raw) if previous < raw else (raw, previous)
            run_start = self.run_start  # only the boundaries crossed (low + 1 … high) start a new run
            self.run_start = (*run_start[:low + 1], *(now,) * (high - low), *run_start[high + 1:])
            self.raw = raw

    def settle(self, now: float) -> int:
        """The settled rank at ``now`` (changed if a pending change has lasted long enough)."""
        raw, level = self.raw, self.level
        if raw > level:
            for k in range(raw, level, -1):
                if now - self.run_start[k] >= self.raise_after_s:
                    self.level = k
                    return k
        elif raw < level:
            for j in range(raw, level):
                if now - self.run_start[j + 1] >= self.clear_after_s:
                    self.level = j
                    return j
        return level

    def next_due(self) -> float | None:
        """When :meth:`settle` could next change the rank if the raw rank stays as it is."""
        if self.raw > self.level:
            return self.run_start[self.level + 1] + self.raise_after_s
        if self.raw < self.level:
            return self.run_start[self.level] + self.clear_after_s
        return None

    def force(self, level: int, now: float) -> None:
        """Set both ranks, as when an alert is restored from the store."""
        self.level = self.raw = level
        self.run_start = (now,) * (self.levels + 1)
