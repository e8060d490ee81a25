"""Trustworthy readings: a gauge's readings checked before any flood rule sees them.

Each reading of the watched metric may be flagged:

- ``spike``: further than ``spike`` from where the last 5 readings say the water is now (a blip: a
  wave, a bird, a radar echo). That is the median of each recent reading carried forward at the
  median of their successive rises, so a fast but smooth flood rise is not a spike. Flagged readings
  count in it, so a real, lasting change is accepted from its fourth reading on;
- ``gradient``: changing faster than ``max_rise_per_min`` (either way) since the last reading that
  was not flagged: water cannot do that. A lasting step is accepted once time makes it possible;
- ``stuck``: the very same value ``stuck_samples`` times over at least ``stuck_for`` (real sensors
  have noise), unless at the sensor's ``ceiling`` (a full culvert reads the top of the range);
- ``below_floor``: under the gauge's ``floor`` (the culvert bottom, less a tolerance);
- ``low_battery`` / ``low_signal``: the device's battery or radio signal under its minimum.

>>> from rules.spec import QualityRule
>>> rule = QualityRule(name="q", kind="quality", metric="water_level_mm", severity="yellow", spike=150)
>>> checker = QualityChecker(rule, floor=None, ceiling=None)
>>> [checker.check(float(t), v) for t, v in [(0, 40), (30, 41), (60, 39), (90, 640), (120, 40)]]
[(), (), (), ('spike',), ()]
"""

from __future__ import annotations

import itertools
from collections import deque

from rules.projection import median
from rules.spec import QualityRule

RECENT = 5
"""Readings whose median a new reading is compared with for a spike."""


class QualityChecker:
    """One device's recent readings of the watched metric, and its battery and signal state."""

    __slots__ = ("accepted", "ceiling", "floor", "low_battery", "low_signal", "recent", "run", "spec")

    def __init__(self, spec: QualityRule, *, floor: float | None, ceiling: float | None) -> None:
        self.spec = spec
        self.floor = floor
        self.ceiling = ceiling
        self.recent: deque[tuple[float, float]] = deque(maxlen=RECENT)
        self.accepted: tuple[float, float] | None = None  # (time, value) of the last unflagged reading
        self.run: tuple[float, float, int] | None = None  # (value, since, count) of identical readings
        self.low_battery = False
        self.low_signal = False

    def check(self, t: float, value: float) -> tuple[str, ...]:
        """The flags of the reading ``value`` at ``t`` (empty: trustworthy)."""
        spec = self.spec
        flags: list[str] = []
        if spec.spike is not None and len(self.recent) >= 3 and abs(value - self._expected(t)) > spec.spike:
            flags.append("spike")
        if spec.max_rise_per_min is not None and self.accepted is not None and t > self.accepted[0] \
                and abs(value - self.accepted[1]) / (t - self.accepted[0]) * 60.0 > spec.max_rise_per_min:
            flags.append("gradient")
        if spec.stuck_for_s is not None and self._stuck(t, value):
            flags.append("stuck")
        if self.floor is not None and value < self.floor:
            flags.append("below_floor")
        if self.low_battery:
            flags.append("low_battery")
        if self.low_signal:
            flags.append("low_signal")
        if "below_floor" not in flags:  # an impossible value says nothing about where the water is
            self.recent.append((t, value))
        if not flags:
            self.accepted = (t, value)
        return tuple(flags)

    def _expected(self, t: float) -> float:
        """Where the recent readings put the water at ``t``: robust to one wild reading among them."""
        pairs = list(self.recent)
        rises = [(v2 - v1) / (t2 - t1) for (t1, v1), (t2, v2) in itertools.pairwise(pairs) if t2 > t1]
        rise = median(rises) if rises else 0.0
        return median([v + rise * (t - ti) for ti, v in pairs])

    def _stuck(self, t: float, value: float) -> bool:
        if self.run is None or self.run[0] != value:
            self.run = (value, t, 1)
            return False
        held, since, count = self.run
        self.run = (held, since, count + 1)
        at_top = self.ceiling is not None and value >= self.ceiling
        assert self.spec.stuck_for_s is not None
        return not at_top and count + 1 >= self.spec.stuck_samples and t - since >= self.spec.stuck_for_s

    def supply(self, metric: str, value: float) -> str | None:
        """A battery or signal reading; the flag it sets or keeps (None: fine)."""
        spec = self.spec
        if metric == spec.battery_metric and spec.battery_min is not None:
            self.low_battery = value < spec.battery_min
            return "low_battery" if self.low_battery else None
        if metric == spec.signal_metric and spec.signal_min is not None:
            self.low_signal = value < spec.signal_min
            return "low_signal" if self.low_signal else None
        return None
