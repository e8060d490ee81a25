"""Retry timing that is *given* the time, so it is tested without sleeping.

>>> backoff = Backoff(initial_s=1.0, max_s=8.0, jitter=0.0)
>>> [backoff.failed(now=100.0) - 100.0 for _ in range(5)]
[1.0, 2.0, 4.0, 8.0, 8.0]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Seeding a generator costs about 50 µs: one for every delivery of a 10,000-lamp command adds up.
_SHARED_RNG = random.Random()


@dataclass
class Backoff:
    """Exponential backoff with jitter: each failure pushes the next attempt further out, up to ``max_s``.

    ``jitter`` spreads retries of many devices that failed together (a whole bus going down) by
    up to that fraction of the delay either way.
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=lambda: _SHARED_RNG, repr=False)
    failures: int = 0

    def delay_s(self) -> float:
        """The wait after the failures so far, before jitter."""
        if self.failures == 0:
            return 0.0
        return min(self.initial_s * self.factor ** (self.failures - 1), self.max_s)

    def failed(self, now: float) -> float:
        """Count a failure at ``now`` (monotonic seconds); return when to try again."""
        self.failures += 1
        delay = self.delay_s()
        if self.jitter:
            delay *= 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        return now + delay

    def reset(self) -> None:
        self.failures = 0
