"""Exponential backoff with jitter, given the time instead of reading a clock.

>>> backoff = Backoff(base_s=1.0, cap_s=30.0, rng=random.Random(7))
>>> round(backoff.failed(now=100.0) - 100.0, 2), round(backoff.failed(now=200.0) - 200.0, 2)
(0.93, 1.72)
>>> backoff.succeeded(); backoff.failures
0
"""

from __future__ import annotations

import random


def backoff_delay_s(attempt: int, *, base_s: float, cap_s: float, jitter: float = 0.2,
                    rng: random.Random | None = None) -> float:
    """The wait before retry number ``attempt`` (1 = after the first failure): ``base * 2^(attempt-1)``,
    at most ``cap_s``, spread by ±``jitter`` so that many clients failing together retry apart."""
    if attempt < 1:
        return 0.0
    exponent = min(attempt - 1, 62)  # 2**62 dwarfs any cap; keeps the float finite
    delay = min(cap_s, base_s * (2.0 ** exponent))
    spread = (rng or random).uniform(1.0 - jitter, 1.0 + jitter)
    return delay * spread


class Backoff:
    """Consecutive failures and when to try again; :meth:`failed` is given ``now`` (monotonic seconds)."""

    __slots__ = ("base_s", "cap_s", "failures", "jitter", "next_attempt_at", "rng")

    def __init__(self, *, base_s: float, cap_s: float, jitter: float = 0.2, rng: random.Random | None = None) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError("need 0 < base_s <= cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.failures = 0
        self.next_attempt_at = 0.0

    def failed(self, now: float) -> float:
        """Count a failure at ``now``; return when to try next."""
        self.failures += 1
        self.next_attempt_at = now + backoff_delay_s(self.failures, base_s=self.base_s, cap_s=self.cap_s,
                                                     jitter=self.jitter, rng=self.rng)
        return self.next_attempt_at

    def delay_s(self, now: float) -> float:
        """Seconds from ``now`` until the next attempt (0 when it may go at once)."""
        return max(0.0, self.next_attempt_at - now)

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt_at = 0.0
