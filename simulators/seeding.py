"""Deterministic randomness: every device draws from its own stream, named by seed and purpose.

Python's ``hash()`` of a string changes between runs, so streams are keyed with BLAKE2 instead:
the same scenario seed gives the same devices, the same noise and the same faults every run.

>>> rng_for(1, "LP-00001", "noise").random() == rng_for(1, "LP-00001", "noise").random()
True
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: str) -> int:
    """A 64-bit seed from a scenario seed and names (device id, purpose)."""
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rng_for(seed: int, *parts: str) -> random.Random:
    return random.Random(derive_seed(seed, *parts))
