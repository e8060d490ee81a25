"""What a rule saw: the raw severity rank, and the value and threshold behind it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a rule sees a rank: the value and threshold behind it, for the alert and its message.

    ``message`` may be a function: most evidence never becomes an alert, so the text is only
    written when it does (formatting numbers for every reading would cost more than the rule).
    """

    rank: int
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    message: str | Callable[[], str] = ""
    context: Mapping[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message() if callable(self.message) else self.message


NORMAL_EVIDENCE = Evidence(0, context=MappingProxyType({}))
"""What a new track has seen: nothing (one for all tracks; an evidence is never changed)."""

_OFFLINE_CONTEXT: Mapping[str, float] = MappingProxyType({"offline": 1.0})


@functools.cache
def offline_evidence(rank: int) -> Evidence:
    """One (immutable) evidence for every offline device of a rank: a track keeps its evidence while
    the alert is open, and 80,000 offline devices kept 80,000 equal ones (20 MB) otherwise."""
    return Evidence(rank, message="device reported offline", context=_OFFLINE_CONTEXT)
