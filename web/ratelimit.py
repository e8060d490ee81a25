"""Requests per minute per caller (token, session or address): a token bucket per key, in this process.

Each web process counts its own requests; behind a proxy with N processes the effective limit is N times
the setting (docs/api.md). The clock is a parameter so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``check(key)`` → None when allowed, else the seconds to wait (for ``Retry-After``)."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float], *, max_keys: int = 100_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def check(self, key: str) -> int | None:
        now = self._monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:  # forget the idle ones rather than grow without end
                self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < 60.0}
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
