"""The map state of a device: decided by the server from its latest values, online state and open alerts."""

from __future__ import annotations

import pytest

from web.map_state import classify


@pytest.mark.parametrize(("kind", "latest", "online", "alert", "expected"), [
    ("lamp_controller", {"relay_on": 1, "dim_level_pct": 100}, True, None, "on"),
    ("lamp_controller", {"relay_on": 1, "dim_level_pct": 30}, True, None, "dimmed"),
    ("lamp_controller", {"relay_on": 0, "dim_level_pct": 100}, True, None, "off"),
    ("lamp_controller", {"relay_on": 1, "dim_level_pct": 0}, None, None, "off"),
    ("lamp_controller", {"relay_on": 1, "fault_bits": 1}, True, None, "fault"),
    ("lamp_controller", {"relay_on": 1}, True, "yellow", "fault"),
    ("lamp_controller", {}, None, None, "unknown"),
    ("lamp_controller", {"relay_on": 1, "fault_bits": 1}, False, "red", "offline"),
    ("culvert_gauge", {}, True, None, "normal"),
    ("culvert_gauge", {}, None, "orange", "orange"),
    ("culvert_gauge", {}, False, "red", "offline"),
    ("water_quality_probe", {}, True, "yellow", "yellow"),
])
def test_state(kind: str, latest: dict[str, float], online: bool | None, alert: str | None, expected: str) -> None:
    assert classify(kind, latest, online=online, alert_severity=alert) == expected
