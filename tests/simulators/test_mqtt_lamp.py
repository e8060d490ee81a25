"""The simulated MQTT lamp controller: commands change what it publishes; a bad command is refused with why."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from device_registry.profile import shipped_profiles
from simulators.devices import CommandRejected
from simulators.mqtt_lamp import MqttLamp

T0 = datetime(2026, 12, 21, 20, tzinfo=UTC)


def test_it_publishes_what_its_profile_names() -> None:
    lamp = MqttLamp("LP-1", now=T0)
    published = lamp.telemetry(T0 + timedelta(seconds=10))
    assert published is not None
    assert set(published) == set(shipped_profiles()["sw-lamp-controller-mqtt"].metric_names())
    assert not lamp.silent(T0)


def test_dim_and_switch_change_the_meter() -> None:
    lamp = MqttLamp("LP-1", now=T0)
    lamp.command("set_dim", {"level_pct": 30}, T0)
    at_30 = lamp.telemetry(T0 + timedelta(seconds=60))
    assert at_30 is not None and at_30["dim_level_pct"] == 30
    lamp.command("switch", {"on": False}, T0 + timedelta(seconds=60))
    dark = lamp.telemetry(T0 + timedelta(seconds=120))
    assert dark is not None and (dark["relay_on"], dark["power_w"]) == (0, 0)
    assert lamp.received == [("set_dim", {"level_pct": 30}), ("switch", {"on": False})]


@pytest.mark.parametrize(("action", "params", "why"), [
    ("set_dim", {"level_pct": 150}, "dim level 150 is outside 0..100 %"),
    ("set_dim", {"level_pct": "high"}, "level_pct must be a number"),
    ("switch", {"on": 1}, "on must be true or false"),
    ("reboot", {}, "unknown action 'reboot' (known: set_dim, switch, flash)"),
])
def test_a_bad_command_is_refused_with_the_reason(action: str, params: dict[str, Any], why: str) -> None:
    lamp = MqttLamp("LP-1", now=T0)
    with pytest.raises(CommandRejected, match=re.escape(why)):
        lamp.command(action, params, T0)
    assert lamp.received == []
