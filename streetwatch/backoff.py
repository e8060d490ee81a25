"""Exponential backoff with jitter, *given* the time (monotonic seconds) so that it is tested without sleeping.

One meaning everywhere: :meth:`Backoff.failed` counts a failure at ``now`` and returns **when** to try
again (an absolute time on the same clock as ``now``); :meth:`Backoff.delay_s` says how long that is
from another moment. Every retry loop of the project (broker reconnects, the database at start,
store writes, webhooks, command deliveries) uses this class.

>>> backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.0)
>>> [backoff.failed(now=100.0) for _ in range(5)]
[101.0, 102.0, 104.0, 108.0, 108.0]
>>> backoff.ready(now=107.9), backoff.ready(now=108.0), backoff.delay_s(now=105.0)
(False, True, 3.0)
>>> backoff.succeeded(); backoff.failures, backoff.ready(now=0.0)
(0, True)
"""

from __future__ import annotations

import random

# Seeding a generator costs about 50 µs: one per delivery of a 10,000-lamp command would add up.
_SHARED_RNG = random.Random()


def backoff_delay_s(attempt: int, *, initial_s: float, max_s: float, factor: float = 2.0, jitter: float = 0.1,
                    rng: random.Random | None = None) -> float:
    """The wait before retry number ``attempt`` (1 = after the first failure): ``initial * factor^(attempt-1)``,
    at most ``max_s``, spread by ±``jitter`` (a fraction) so that many clients failing together retry apart."""
    if attempt < 1:
        return 0.0
    exponent = min(attempt - 1, 1_000)
    try:
        delay = min(max_s, initial_s * factor ** exponent)
    except OverflowError:  # factor ** exponent beyond a float dwarfs any maximum
        delay = max_s
    if jitter:
        delay *= (rng or _SHARED_RNG).uniform(1.0 - jitter, 1.0 + jitter)
    return float(delay)


class Backoff:
    """Consecutive failures and when the next attempt is due."""

    __slots__ = ("factor", "failures", "initial_s", "jitter", "max_s", "next_attempt_at", "rng")

    def __init__(self, *, initial_s: float, max_s: float, factor: float = 2.0, jitter: float = 0.1,
                 rng: random.Random | None = None) -> None:
        if initial_s <= 0 or max_s < initial_s or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("backoff needs 0 < initial_s <= max_s, factor >= 1 and 0 <= jitter < 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self.rng = rng or _SHARED_RNG
        self.failures = 0
        self.next_attempt_at = float("-inf")

    def failed(self, now: float) -> float:
        """Count a failure at ``now``; return the time of the next attempt (``now`` + the delay)."""
        self.failures += 1
        self.next_attempt_at = now + backoff_delay_s(self.failures, initial_s=self.initial_s, max_s=self.max_s,
                                                     factor=self.factor, jitter=self.jitter, rng=self.rng)
        return self.next_attempt_at

    def delay_s(self, now: float) -> float:
        """Seconds from ``now`` until the next attempt is due (0 when it may go at once)."""
        return max(0.0, self.next_attempt_at - now)

    def ready(self, now: float) -> bool:
        """Whether an attempt may go at ``now``."""
        return now >= self.next_attempt_at

    def succeeded(self) -> None:
        """An attempt worked: the next failure starts again from ``initial_s``."""
        self.failures = 0
        self.next_attempt_at = float("-inf")
