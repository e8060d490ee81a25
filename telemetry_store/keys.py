"""In-memory maps between text ids and the small integer keys rows are stored with.

The database is the authority (``device_keys``, ``metric_keys``); a process learns each key once.
Keys are never reused or renumbered, so a cached key stays right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class KeyMap:
    """One id ↔ key table, as far as this process has seen it."""

    by_id: dict[str, int] = field(default_factory=dict)
    by_key: dict[int, str] = field(default_factory=dict)

    def add(self, pairs: Iterable[tuple[str, int]]) -> None:
        for name, key in pairs:
            self.by_id[name] = key
            self.by_key[key] = name

    def missing(self, names: Iterable[str]) -> list[str]:
        known = self.by_id
        return sorted({name for name in names if name not in known})


@dataclass
class KeyCache:
    devices: KeyMap = field(default_factory=KeyMap)
    metrics: KeyMap = field(default_factory=KeyMap)
