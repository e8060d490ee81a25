"""Injected faults: what can go wrong with which device, when, and for how many devices.

A fault is written ``[TARGET/]KIND[:COUNT][@START[+DURATION]]``, comma-separated::

    lamp_failure:3                 three lamps fail from the start, for good
    no_answer:2@60s+30s            two lamp controllers stop answering at 60 s, for 30 s
    probe/no_answer:1              one Modbus probe stops answering (a dead device on a shared line)
    pollution:1@2m+20m             one probe sees a pollution event from 2 min, passing in 20 min

Each kind has a default target (lamps for lamp and comms faults, gauges for gauge faults, probes
for pollution); which devices get it is drawn from the scenario seed, never twice the same device.

>>> FaultSpec.parse_many("lamp_failure:3,no_answer:2@60s+30s")[1]
FaultSpec(kind=<FaultKind.no_answer: 'no_answer'>, count=2, target=<Target.lamp: 'lamp'>, start_s=60.0, duration_s=30.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from simulators.rain import parse_duration_s


class Target(StrEnum):
    lamp = "lamp"
    gauge = "gauge"
    probe = "probe"


class FaultKind(StrEnum):
    # the lamp itself
    lamp_failure = "lamp_failure"
    day_burning = "day_burning"
    cycling = "cycling"
    # a Modbus device's communication
    no_answer = "no_answer"
    exception = "exception"
    drop = "drop"
    delay = "delay"
    # a gauge's sensor, battery and radio
    stuck_sensor = "stuck_sensor"
    low_battery = "low_battery"
    dropout = "dropout"
    echo_spikes = "echo_spikes"
    below_floor = "below_floor"
    weak_signal = "weak_signal"
    # the river at a probe
    pollution = "pollution"

    @property
    def is_comms(self) -> bool:
        return self in COMMS_FAULTS


COMMS_FAULTS = frozenset({FaultKind.no_answer, FaultKind.exception, FaultKind.drop, FaultKind.delay})
_TARGETS: dict[FaultKind, frozenset[Target]] = {
    FaultKind.lamp_failure: frozenset({Target.lamp}),
    FaultKind.day_burning: frozenset({Target.lamp}),
    FaultKind.cycling: frozenset({Target.lamp}),
    FaultKind.stuck_sensor: frozenset({Target.gauge}),
    FaultKind.low_battery: frozenset({Target.gauge}),
    FaultKind.echo_spikes: frozenset({Target.gauge}),
    FaultKind.below_floor: frozenset({Target.gauge}),
    FaultKind.weak_signal: frozenset({Target.gauge}),
    FaultKind.dropout: frozenset({Target.gauge, Target.probe}),
    FaultKind.pollution: frozenset({Target.probe}),
    **{kind: frozenset(Target) for kind in COMMS_FAULTS},
}
_DEFAULT_TARGET: dict[FaultKind, Target] = {
    FaultKind.stuck_sensor: Target.gauge, FaultKind.low_battery: Target.gauge, FaultKind.dropout: Target.gauge,
    FaultKind.echo_spikes: Target.gauge, FaultKind.below_floor: Target.gauge, FaultKind.weak_signal: Target.gauge,
    FaultKind.pollution: Target.probe,
}


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """When a fault is active: from ``start_s`` (seconds after the origin) until ``end_s``."""

    start_s: float = 0.0
    end_s: float = math.inf

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


_SPEC = re.compile(r"^(?:(?P<target>[a-z]+)/)?(?P<kind>[a-z_]+)(?::(?P<count>\d+))?"
                   r"(?:@(?P<start>[0-9.]+[a-z]*)(?:\+(?P<duration>[0-9.]+[a-z]*))?)?$")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """``count`` devices of ``target`` get fault ``kind`` from ``start_s`` for ``duration_s`` (None: for good)."""

    kind: FaultKind
    count: int = 1
    target: Target = Target.lamp
    start_s: float = 0.0
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.target not in _TARGETS[self.kind]:
            allowed = ", ".join(sorted(_TARGETS[self.kind]))
            raise ValueError(f"fault {self.kind.value!r} applies to {allowed}, not {self.target.value}")
        if self.count < 1:
            raise ValueError(f"fault {self.kind.value!r}: count must be at least 1")

    @property
    def window(self) -> FaultWindow:
        end = math.inf if self.duration_s is None else self.start_s + self.duration_s
        return FaultWindow(self.start_s, end)

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        match = _SPEC.match(text.strip())
        if not match:
            raise ValueError(f"fault {text!r}: expected [TARGET/]KIND[:COUNT][@START[+DURATION]], e.g. lamp_failure:3")
        try:
            kind = FaultKind(match["kind"])
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"fault {text!r}: unknown kind {match['kind']!r} (known: {known})") from None
        try:
            target = Target(match["target"]) if match["target"] else _DEFAULT_TARGET.get(kind, Target.lamp)
        except ValueError:
            raise ValueError(f"fault {text!r}: unknown target {match['target']!r} (lamp, gauge or probe)") from None
        try:
            start = parse_duration_s(match["start"]) if match["start"] else 0.0
            duration = parse_duration_s(match["duration"]) if match["duration"] else None
            return cls(kind, int(match["count"] or 1), target, start, duration)
        except ValueError as exc:
            raise ValueError(f"fault {text!r}: {exc}") from None

    @classmethod
    def parse_many(cls, text: str) -> tuple[FaultSpec, ...]:
        return tuple(cls.parse(part) for part in text.split(",") if part.strip())

    def describe(self) -> str:
        when = f"@{self.start_s:g}s" + (f"+{self.duration_s:g}s" if self.duration_s is not None else "")
        return f"{self.target.value}/{self.kind.value}:{self.count}{when if self.start_s or self.duration_s else ''}"
