"""A lamp-post controller reached over MQTT: the lamp model behind the MQTT contract.

Run by :class:`~simulators.mqtt_fleet.MqttFleet` like the gauges and probes: it publishes its meter
(``power_w``, ``dim_level_pct``, ``relay_on`` …) as telemetry and carries out the commands the
gateway's control channel sends on its ``cmd`` topic, which the fleet acknowledges on ``cmd/ack``
(docs/mqtt.md), as the shipped profile ``sw-lamp-controller-mqtt`` describes. A command the controller
cannot carry out is refused with the reason.

>>> from datetime import UTC, datetime
>>> t0 = datetime(2026, 12, 21, 12, tzinfo=UTC)
>>> lamp = MqttLamp("LP-1", now=t0)
>>> lamp.command("set_dim", {"level_pct": 30}, t0)
>>> lamp.telemetry(t0)["dim_level_pct"]
30.0
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from simulators.devices import CommandRejected
from simulators.lamp import LampController, LampSpec

# What the shipped profile sw-lamp-controller-mqtt names as telemetry.
_PUBLISHED = ("power_w", "dim_level_pct", "relay_on", "fault_bits", "energy_kwh")


class MqttLamp:
    """One lamp controller on MQTT; ``received`` keeps the actions it carried out, in order."""

    def __init__(self, device_id: str, *, now: datetime, seed: int = 1, interval_s: float = 10.0,
                 spec: LampSpec | None = None) -> None:
        self.device_id = device_id
        self.interval_s = interval_s
        self.controller = LampController(spec or LampSpec(), seed=seed, device_id=device_id, now=now)
        self.received: list[tuple[str, dict[str, Any]]] = []

    def silent(self, now: datetime) -> bool:
        return False

    def telemetry(self, now: datetime) -> dict[str, float] | None:
        metrics = self.controller.read(now).metrics()
        return {name: metrics[name] for name in _PUBLISHED if name in metrics}

    def command(self, action: str, params: Mapping[str, Any], now: datetime) -> None:
        """Carry out one command of the control path; :class:`CommandRejected` says why not."""
        c = self.controller
        try:
            if action == "set_dim":
                c.set_dim(_number(params, "level_pct"), now)
            elif action == "switch":
                c.set_relay(_flag(params, "on"), now)
            elif action == "flash":
                c.set_flash(_flag(params, "on"), now)
            else:
                raise CommandRejected(f"unknown action {action!r} (known: set_dim, switch, flash)")
        except (ValueError, TypeError) as exc:
            raise CommandRejected(str(exc)) from None
        self.received.append((action, dict(params)))


def _number(params: Mapping[str, Any], name: str) -> float:
    value = params.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise CommandRejected(f"{name} must be a number")
    return float(value)


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if not isinstance(value, bool):
        raise CommandRejected(f"{name} must be true or false")
    return value
