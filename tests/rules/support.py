"""Helpers for the rules tests: devices, a recording alert sink and command sink, an engine harness."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from device_registry.device import Device, DeviceStatus, Location, ModbusTcpAddress, MqttAddress
from rules.actions import CommandTarget
from rules.alerts import AlertTransition
from rules.engine import RulesEngine
from rules.loader import RuleSet, parse_ruleset
from streetwatch.clock import FakeClock
from streetwatch.readings import Reading

START = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
SHANGHAI = (31.23, 121.47)

PROFILE_OF_KIND = {
    "culvert_gauge": "sw-culvert-gauge-mqtt",
    "lamp_controller": "sw-lamp-controller",
    "water_quality_probe": "sw-water-quality-probe",
}


def device(device_id: str, kind: str = "culvert_gauge", *, site: str = "district-1", groups: tuple[str, ...] = (),
           thresholds: Mapping[str, Mapping[str, float]] | None = None, status: DeviceStatus = DeviceStatus.active,
           location: tuple[float, float] = SHANGHAI, tags: Mapping[str, str] | None = None,
           profile: str | None = None) -> Device:
    address: Any = MqttAddress() if kind != "lamp_controller" else ModbusTcpAddress(host="10.0.0.1")
    return Device(
        id=device_id, kind=kind, profile=profile or PROFILE_OF_KIND.get(kind, "custom"), address=address,
        location=Location(latitude=location[0], longitude=location[1], landmark=f"{device_id} landmark"),
        site=site, groups=groups, thresholds={k: dict(v) for k, v in (thresholds or {}).items()},
        status=status, tags=dict(tags or {}),
    )


@dataclass
class RecordingSink:
    """An alert sink that keeps what it is given."""

    transitions: list[AlertTransition] = field(default_factory=list)

    async def apply(self, transition: AlertTransition) -> None:
        self.transitions.append(transition)

    def events(self) -> list[tuple[str, str, str]]:
        """(event, device, severity) in order."""
        return [(t.event.value, t.device_id, t.severity) for t in self.transitions]


@dataclass
class RecordingCommands:
    """A command sink that keeps every submission."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def submit(self, target: CommandTarget, action: str, params: dict[str, Any], requester: str,
                     reason: str, *, request_key: str | None = None) -> None:
        self.calls.append({"target": target, "action": action, "params": params, "requester": requester,
                           "reason": reason})


class Harness:
    """An engine on a fake clock. Use ``async with Harness(rules_yaml, devices) as h``."""

    def __init__(self, rules: str | RuleSet, devices: list[Device], *, start: datetime = START) -> None:
        self.clock = FakeClock(start)
        self.sink = RecordingSink()
        self.commands = RecordingCommands()
        ruleset = parse_ruleset(rules) if isinstance(rules, str) else rules
        self.engine = RulesEngine(self.sink, clock=self.clock, commands=self.commands, rules=ruleset,
                                  devices={d.id: d for d in devices})

    async def __aenter__(self) -> Harness:
        await self.engine.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.__aexit__(None, None, None)

    async def feed(self, device_id: str, metric: str, value: float) -> None:
        await self.engine.on_reading(Reading(device_id, metric, self.clock.now(), float(value)))
        await self.engine.flush()

    async def advance(self, seconds: float) -> None:
        """Move the clock, firing timers at every second on the way (as the gateway's tick does)."""
        end = self.clock.now() + timedelta(seconds=seconds)
        while self.clock.now() < end:
            step = min(1.0, (end - self.clock.now()).total_seconds())
            self.clock.advance(seconds=step)
            await self.engine.tick(self.clock.now())
        await self.engine.flush()

    def events(self) -> list[tuple[str, str, str]]:
        return self.sink.events()


_seq = iter(range(1, 1_000_000))


def transition(event: str, severity: str, *, rule: str = "level", device_id: str = "CG-1", at: datetime = START,
               previous: str | None = None, value: float = 812.0, site: str = "district-3",
               kind: str = "culvert_gauge") -> AlertTransition:
    """A transition as the engine would emit it."""
    from rules.alerts import AlertEvent, AlertLocation

    return AlertTransition(
        seq=next(_seq), event=AlertEvent(event), rule=rule, device_id=device_id, severity=severity,
        previous_severity=previous, at=at, device_kind=kind, site=site,
        location=AlertLocation(31.2, 121.4, "Xujiahui underpass"), metric="water_level_mm", value=value,
        threshold=800.0, message=f"water_level_mm {value:g}", context={"water_level_mm": value})
