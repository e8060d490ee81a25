"""The profile library: shipped profiles, a site's profiles_dir, broken files named, devices checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_registry.errors import UnknownProfile
from device_registry.flat import device_from_fields
from device_registry.library import ProfileLibrary, check_device
from tests.device_registry.conftest import GAUGE, LAMP

ACME = """
name = "acme-lc200"
kind = "lamp_controller"
transport = "modbus"
[[modbus.metrics]]
name = "dim_level_pct"
address = 0
writable = true
"""
SIGN = """
name: vms-sign
kind: message_sign
transport: mqtt
mqtt:
  metrics:
    - name: brightness_pct
"""


def test_unknown_profile_names_itself_and_the_known_ones() -> None:
    library = ProfileLibrary.shipped()
    with pytest.raises(UnknownProfile) as err:
        library.get("acme-lc200")
    assert str(err.value).startswith("profile: unknown profile 'acme-lc200' (known: sw-culvert-gauge-modbus,")


def test_profiles_dir_adds_kinds_overrides_and_reports_broken_files(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(ACME)
    (tmp_path / "sign.yaml").write_text(SIGN)
    (tmp_path / "broken.toml").write_text('name = "broken"\nkind = "x"\ntransport = "modbus"\n')
    (tmp_path / "garbage.toml").write_text("name = \n")
    (tmp_path / "README.md").write_text("not a profile")
    library = ProfileLibrary.shipped(tmp_path)
    assert library.get("acme-lc200").kind == "lamp_controller"
    assert "sw-lamp-controller" in library
    assert "message_sign" in library.kinds()
    broken = {e.name: e for e in library.broken()}
    assert set(broken) == {"broken", "garbage"}
    assert broken["broken"].problems == ("modbus: a modbus profile needs a [modbus] section with metrics",)
    assert broken["garbage"].problems[0].startswith("not valid TOML")
    with pytest.raises(UnknownProfile, match=r"profile: 'broken' is invalid: .*broken.toml: modbus: a modbus"):
        library.get("broken")


def test_check_device_against_its_profile() -> None:
    library = ProfileLibrary.shipped()
    assert check_device(device_from_fields(LAMP), library) == []
    assert check_device(device_from_fields(GAUGE), library) == []
    wrong = device_from_fields({**GAUGE, "kind": "street_sweeper", "transport": "modbus-tcp", "host": "10.0.0.9"})
    assert [str(p) for p in check_device(wrong, library)] == [
        "kind: unknown kind 'street_sweeper' (known: culvert_gauge, lamp_controller, rain_gauge, water_quality_probe)",
        "transport: profile sw-culvert-gauge-mqtt speaks mqtt; use transport mqtt",
    ]
