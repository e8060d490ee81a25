from __future__ import annotations

from pathlib import Path

import pytest

from device_registry.profile import ProfileError, check_profile, load_profile, shipped_profiles


def test_shipped_profiles_are_valid_and_carry_units() -> None:
    profiles = shipped_profiles()
    assert set(profiles) == {
        "sw-lamp-controller", "sw-lamp-controller-mqtt", "sw-culvert-gauge-modbus", "sw-culvert-gauge-mqtt",
        "sw-water-quality-probe", "sw-water-quality-probe-mqtt", "sw-rain-gauge-modbus", "sw-rain-gauge-mqtt",
    }
    lamp = profiles["sw-lamp-controller"]
    assert lamp.unit_of("power_w") == "W"
    assert {"set_dim", "switch", "set_schedule"} <= set(lamp.commands)
    gauge = profiles["sw-culvert-gauge-modbus"]
    assert "water_level_mm" in gauge.metric_names()
    assert gauge.plausible_range("battery_v") == (3.0, 4.3)


def _modbus(*metrics: dict[str, object], **extra: object) -> dict[str, object]:
    return {"name": "test", "kind": "lamp_controller", "transport": "modbus",
            "modbus": {"metrics": list(metrics)}, **extra}


def test_every_problem_is_reported_with_its_location() -> None:
    profile, problems = check_profile(_modbus(
        {"name": "a", "address": 0, "type": "u32", "count": 1},
        {"name": "b", "address": 10, "type": "f32"},
        {"name": "c", "address": 11},
        {"name": "b", "address": 40},
        commands={"set_dim": {"metric": "a"}},
    ))
    assert profile is None
    assert "modbus.metrics[0] (a).count: u32 takes 2 register(s), not 1" in problems
    assert ("modbus.metrics[2] (c).address: holding register 11 overlaps modbus.metrics[1] (b) at 10..11"
            in problems)
    assert "modbus.metrics[3] (b).name: 'b' is already defined at modbus.metrics[1] (b)" in problems
    assert "commands.set_dim.metric: 'a' is not writable" in problems


def test_unknown_type_is_named() -> None:
    _, problems = check_profile(_modbus({"name": "x", "address": 0, "type": "f33"}))
    assert len(problems) == 1
    assert problems[0].startswith("modbus.metrics[0] (x).type: unknown value 'f33'")


def test_derived_expression_must_use_known_metrics() -> None:
    _, problems = check_profile(_modbus({"name": "d", "address": 0},
                                        derived=[{"name": "l", "expression": "h - d"}]))
    assert problems == ["derived[0] (l).expression: unknown metric(s) h"]


def test_load_profile_yaml_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "gauge.yaml"
    good.write_text("name: g\nkind: culvert_gauge\ntransport: mqtt\nmqtt:\n  metrics:\n    - name: water_level_mm\n"
                    "      path: data.level_m\n      scale: 1000\n      unit: mm\n")
    profile = load_profile(good)
    assert profile.mqtt is not None
    assert profile.mqtt.metrics[0].json_path == "data.level_m"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\nkind = "x"\ntransport = "modbus"\n')
    with pytest.raises(ProfileError) as err:
        load_profile(bad)
    assert err.value.problems == ["modbus: a modbus profile needs a [modbus] section with metrics"]
