"""Exponential backoff that is *given* the time, so it is tested without sleeping.

>>> b = Backoff(initial_s=1, maximum_s=8, jitter=0)
>>> [b.failed(now=0) for _ in range(5)]
[1.0, 2.0, 4.0, 8.0, 8.0]
>>> b.ready(now=7.9), b.ready(now=8.0)
(False, True)
"""

from __future__ import annotations

import random


class Backoff:
    __slots__ = ("_rng", "attempts", "factor", "initial_s", "jitter", "maximum_s", "next_attempt_at")

    def __init__(self, *, initial_s: float = 0.5, maximum_s: float = 60.0, factor: float = 2.0,
                 jitter: float = 0.1, rng: random.Random | None = None) -> None:
        if initial_s <= 0 or maximum_s < initial_s or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("backoff needs 0 < initial ≤ maximum, factor ≥ 1 and 0 ≤ jitter < 1")
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0
        self.next_attempt_at = float("-inf")
        self._rng = rng or random.Random()

    def failed(self, now: float) -> float:
        """Record a failure at ``now``; return the delay before the next attempt."""
        delay = float(min(self.maximum_s, self.initial_s * self.factor ** self.attempts))
        if self.jitter:
            delay *= 1 + self._rng.uniform(-self.jitter, self.jitter)
        self.attempts += 1
        self.next_attempt_at = now + delay
        return delay

    def succeeded(self) -> None:
        self.attempts = 0
        self.next_attempt_at = float("-inf")

    def ready(self, now: float) -> bool:
        return now >= self.next_attempt_at

    def wait_s(self, now: float) -> float:
        """Seconds until the next attempt is due (0 if it is)."""
        return max(0.0, self.next_attempt_at - now)
