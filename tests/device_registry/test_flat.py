"""Devices as text fields: every way in names the field at fault, and export → import is lossless."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_registry.device import DeviceStatus, Transport
from device_registry.errors import InvalidDevice
from device_registry.flat import COLUMNS, device_from_fields, device_to_fields, split_host_port
from streetwatch.passwords import verify_password
from tests.device_registry.conftest import GAUGE, LAMP


def _problems(**changes: str) -> list[str]:
    with pytest.raises(InvalidDevice) as err:
        device_from_fields({**LAMP, **changes})
    return [str(p) for p in err.value.problems]


def test_a_lamp_row_becomes_a_device_with_defaults() -> None:
    device = device_from_fields(LAMP)
    assert device.transport is Transport.modbus_tcp
    assert device.address.model_dump() == {"transport": Transport.modbus_tcp, "host": "10.20.0.15", "port": 502,
                                           "unit": 1}
    assert device.location.latitude == pytest.approx(23.1291)
    assert device.groups == ("riverside-night",)
    assert device.tags == {"pole": "steel"}
    assert device.status is DeviceStatus.registered
    assert device.bus_key == "tcp://10.20.0.15:502"


def test_thresholds_text_becomes_nested_overrides() -> None:
    device = device_from_fields(GAUGE)
    assert device.thresholds == {"water_level_mm": {"orange": 500.0, "red": 800.0}}


@pytest.mark.parametrize(("changes", "expected"), [
    ({"lat": "95.5"}, "lat: Input should be less than or equal to 90 (got 95.5)"),
    ({"lon": "-181"}, "lon: Input should be greater than or equal to -180 (got -181)"),
    ({"lat": "north"}, "lat: 'north' is not a number"),
    ({"lat": "nan"}, "lat: 'nan' is not a finite number"),
    ({"unit": "248"}, "unit: Input should be less than or equal to 247 (got 248)"),
    ({"port": "70000"}, "port: Input should be less than or equal to 65535 (got 70000)"),
    ({"port": "5o2"}, "port: '5o2' is not a whole number"),
    ({"host": "10.20.0.300"}, "host: '10.20.0.300' is not a valid IPv4 address"),
    ({"host": "lamp gw"}, "host: 'lamp gw' is not a valid host name or IP address"),
    ({"id": "LP 1"}, "id: 'LP 1': letters, digits, '.', '_' and '-' only, 1 to 64 characters"),
    ({"id": "L" * 65}, f"id: {'L' * 65!r}: letters, digits, '.', '_' and '-' only, 1 to 64 characters"),
    ({"transport": "bacnet"}, "transport: unknown transport 'bacnet' (use modbus-tcp, modbus-rtu, "
                              "modbus-rtu-over-tcp, mqtt)"),
    ({"baudrate": "9600"}, "baudrate: not used by transport modbus-tcp"),
    ({"tags": "pole"}, "tags: 'pole' is not key=value"),
    ({"thresholds": "water_level_mm=800"}, "thresholds: 'water_level_mm=800' is not metric.level=value "
                                           "(e.g. water_level_mm.red=800)"),
    ({"groups": "river side"}, "groups: Value error, group 'river side': letters, digits, '.', '_' and '-' only, "
                               "1 to 64 characters"),
    ({"status": "broken"}, "status: Input should be 'registered', 'commissioned', 'active', 'maintenance' or "
                           "'retired' (got 'broken')"),
    ({"installed_on": "2026-13-01"}, "installed_on: '2026-13-01' is not a date (YYYY-MM-DD)"),
    ({"poll_interval_s": "0"}, "poll_interval_s: Input should be greater than 0 (got 0)"),
    ({"colour": "red"}, f"colour: unknown field (fields: {', '.join(COLUMNS)})"),
])
def test_one_bad_field_is_named(changes: dict[str, str], expected: str) -> None:
    assert _problems(**changes) == [expected.replace("Value error, ", "")]


def test_every_bad_field_is_named_in_one_pass() -> None:
    problems = _problems(host="10.0.0.300", unit="300", lat="93", baudrate="9600")
    assert [p.split(":")[0] for p in problems] == ["host", "unit", "baudrate", "lat"]


def test_missing_required_fields() -> None:
    with pytest.raises(InvalidDevice) as err:
        device_from_fields({"id": "X-1", "transport": "modbus-rtu-over-tcp", "host": "10.0.0.1"})
    assert [str(p) for p in err.value.problems] == [
        "kind: required", "profile: required", "port: required for transport modbus-rtu-over-tcp",
        "lat: required", "lon: required",
    ]


@pytest.mark.parametrize(("changes", "field"), [
    ({"baudrate": "9601"}, "baudrate"), ({"parity": "X"}, "parity"), ({"stopbits": "3"}, "stopbits"),
    ({"unit": "0"}, "unit"), ({"serial_port": "ttyUSB0"}, "serial_port"),
])
def test_invalid_serial_settings(changes: dict[str, str], field: str) -> None:
    rtu = {**LAMP, "transport": "modbus-rtu", "host": "", "serial_port": "/dev/ttyUSB0", "unit": "3"}
    with pytest.raises(InvalidDevice) as err:
        device_from_fields({**rtu, **changes})
    assert [p.field for p in err.value.problems] == [field]
    device = device_from_fields({**rtu, "baudrate": "19200", "parity": "even", "stopbits": "2"})
    assert device.bus_key == "rtu:///dev/ttyUSB0"
    assert device_to_fields(device)["parity"] == "E"


def test_host_forms() -> None:
    assert split_host_port("10.0.0.5:503") == ("10.0.0.5", "503")
    assert split_host_port("[fd00::7]:502") == ("fd00::7", "502")
    assert split_host_port("gw-3.lamps.example") == ("gw-3.lamps.example", "")
    device = device_from_fields({**LAMP, "host": "FD00::7"})
    assert device_to_fields(device)["host"] == "fd00::7"


def test_secrets_are_masked_only_when_asked() -> None:
    device = device_from_fields({**GAUGE, "client_id": "cg7", "username": "cg7", "password": "s3cret"})
    stored = device_to_fields(device)["password"]
    assert stored.startswith("$7$") and verify_password("s3cret", stored)  # only its hash is kept
    assert device_from_fields({**GAUGE, "password": stored}).address == device.address.model_copy(
        update={"client_id": None, "username": None})  # a hash read back stays that hash
    assert device_to_fields(device, secrets=False)["password"] == "***"


labels = st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)


@given(
    lat=st.floats(-90, 90, allow_nan=False), lon=st.floats(-180, 180, allow_nan=False),
    unit=st.integers(0, 247), port=st.integers(1, 65535),
    groups=st.lists(labels, max_size=3, unique=True),
    tags=st.dictionaries(labels, st.text(st.characters(blacklist_characters=";\r\n", blacklist_categories=("Cs",)),
                                         max_size=10).map(str.strip), max_size=3),
    level=st.floats(-1e6, 1e6, allow_nan=False),
    notes=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20).map(str.strip),
)
def test_fields_round_trip(
    lat: float, lon: float, unit: int, port: int, groups: list[str], tags: dict[str, str], level: float, notes: str,
) -> None:
    device = device_from_fields({**LAMP, "lat": repr(lat), "lon": repr(lon), "unit": str(unit), "port": str(port),
                                 "groups": ";".join(groups), "tags": ";".join(f"{k}={v}" for k, v in tags.items()),
                                 "thresholds": f"power_w.red={level!r}", "notes": notes})
    assert device_from_fields(device_to_fields(device)) == device
