"""The ``quality`` rule: a *device* fault alert for readings that cannot be trusted, and a screen that
keeps those readings from the flood rules (the engine evaluates quality rules first and stops at a
reading one of them holds back).

The fault stands while readings are flagged and for ``hold`` after the last one, so a single spike
raises one alert rather than a flicker; its message names the flags and how often each was seen.
Each flagged reading goes with its flags to the engine's :class:`~rules.flag_log.FlagRecorder`, which
stores them beside the readings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rules.evidence import Evidence
from rules.flag_log import FlagRecorder
from rules.quality import QualityChecker
from rules.severity import SeverityScale
from rules.spec import QualityRule
from rules.watched import WatchedDevice
from streetwatch.figures import show
from streetwatch.readings import Reading


@dataclass
class _Faults:
    checker: QualityChecker
    last_flag_t: float = float("-inf")
    last: str = ""
    counts: Counter[str] = field(default_factory=Counter)


class QualityRuntime:
    holds_back = False
    """Whether the reading just evaluated was flagged (and not ``keep``-listed): the engine stops there."""

    def __init__(self, spec: QualityRule, scale: SeverityScale, flags: FlagRecorder | None = None) -> None:
        self.spec = spec
        self.flags = flags
        self.rank = scale.rank(spec.severity)
        supply = {m for m, limit in ((spec.battery_metric, spec.battery_min), (spec.signal_metric, spec.signal_min))
                  if limit is not None}
        self.metrics = frozenset({spec.metric} | supply)
        self._devices: dict[str, _Faults] = {}
        self.flagged = 0

    def forget(self, device_id: str) -> None:
        self._devices.pop(device_id, None)

    def device_changed(self, device_id: str) -> None:
        self._devices.pop(device_id, None)  # its floor or ceiling may have changed

    def _faults(self, device: WatchedDevice) -> _Faults:
        faults = self._devices.get(device.id)
        if faults is None:
            own = device.thresholds.get(self.spec.metric, {})
            checker = QualityChecker(self.spec, floor=own.get("floor", self.spec.floor),
                                     ceiling=own.get("ceiling", self.spec.ceiling))
            faults = self._devices[device.id] = _Faults(checker)
        return faults

    def evaluate(self, device: WatchedDevice, reading: Reading, previous: int) -> Evidence | None:
        spec = self.spec
        faults = self._faults(device)
        t = reading.ts.timestamp()
        if reading.metric == spec.metric:
            flags = faults.checker.check(t, reading.value)
            self.holds_back = any(flag not in spec.keep for flag in flags)
        else:
            flag = faults.checker.supply(reading.metric, reading.value)
            flags = () if flag is None else (flag,)
            self.holds_back = False
        if flags:
            self.flagged += 1
            if self.flags is not None:
                self.flags.record(spec.name, reading, flags)
            faults.last_flag_t = t
            faults.counts.update(flags)
            faults.last = f"{reading.metric} {show(reading.value)} flagged {', '.join(flags)}"
        active = bool(flags) or t - faults.last_flag_t <= spec.hold_s
        if not active:
            faults.counts.clear()
            if not previous:
                return None  # the usual case, a good reading with nothing to clear: nothing to build
        counts = dict(faults.counts)
        last = faults.last

        def message() -> str:
            if not active:
                return f"{spec.metric} readings trustworthy again"
            seen = ", ".join(f"{flag} {count}" for flag, count in sorted(counts.items()))
            return f"device fault: {last}; flagged readings lately: {seen}"

        return Evidence(self.rank if active else 0, reading.metric, reading.value, None, message,
                        {f"flag_{flag}": float(count) for flag, count in counts.items()})
