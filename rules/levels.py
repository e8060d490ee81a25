"""Threshold levels: which severity a value is at, with a deadband so noise does not flap.

A level is *entered* when the value passes its threshold (``>`` above, ``<`` below) and *kept*
until the value falls back past threshold ∓ deadband. A device's registry thresholds
(``{"water_level_mm": {"red": 650}}``) override the rule's levels name by name; a rule default
that would contradict a device's own value (an orange above its red) is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from rules.severity import SeverityScale

Direction = Literal["above", "below"]


@dataclass(frozen=True, slots=True)
class Levels:
    """Thresholds by rank (lowest severity first) for one device and one rule."""

    direction: Direction
    thresholds: tuple[tuple[int, float], ...]  # (rank, threshold), rank ascending
    deadband: float = 0.0

    def rank_of(self, value: float, previous: int = 0) -> int:
        """The rank ``value`` is at, given the rank it was at before (for the deadband).

        >>> Levels("above", ((2, 300.0), (4, 800.0)), deadband=20).rank_of(290, previous=2)
        2
        """
        rank = 0
        above = self.direction == "above"
        for level, threshold in self.thresholds:
            if above:
                inside = value > threshold or (level <= previous and value > threshold - self.deadband)
            else:
                inside = value < threshold or (level <= previous and value < threshold + self.deadband)
            if inside:
                rank = level
        return rank

    def threshold_of(self, rank: int) -> float | None:
        return next((t for level, t in self.thresholds if level == rank), None)


def effective_levels(
    scale: SeverityScale,
    direction: Direction,
    rule_levels: Mapping[str, float],
    device_levels: Mapping[str, float] | None,
    deadband: float = 0.0,
) -> Levels:
    """The rule's levels with the device's overrides applied; contradicting defaults dropped.

    >>> effective_levels(SeverityScale(), "above", {"yellow": 300, "orange": 500, "red": 800},
    ...                  {"red": 450}).thresholds
    ((2, 300.0), (4, 450.0))
    """
    own = {scale.rank(n): float(v) for n, v in (device_levels or {}).items() if scale.knows(n)}
    defaults = {scale.rank(n): float(v) for n, v in rule_levels.items() if scale.knows(n) and scale.rank(n) not in own}
    merged = dict(own)
    above = direction == "above"
    for rank, value in defaults.items():
        lower_own = [v for r, v in own.items() if r < rank]
        higher_own = [v for r, v in own.items() if r > rank]
        if above:
            fits = all(value > v for v in lower_own) and all(value < v for v in higher_own)
        else:
            fits = all(value < v for v in lower_own) and all(value > v for v in higher_own)
        if fits:
            merged[rank] = value
    return Levels(direction, tuple(sorted(merged.items())), deadband)
