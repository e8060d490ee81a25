"""Reading a device CSV and planning an import: every bad row named by its line, nothing else touched."""

from __future__ import annotations

import pytest

from device_registry import COLUMNS
from device_registry.device import DeviceStatus
from device_registry.errors import ImportRejected, StatusChangeRefused
from device_registry.flat import device_from_fields
from device_registry.importer import ImportRow, plan_import, read_csv
from device_registry.library import ProfileLibrary
from device_registry.lifecycle import ALLOWED, check_status_change
from tests.device_registry.conftest import GAUGE, LAMP

HEADER = "id,kind,profile,transport,host,unit,lat,lon,landmark,groups\n"
LIBRARY = ProfileLibrary.shipped()


def test_rows_keep_their_line_numbers_across_quoted_newlines_and_blank_lines() -> None:
    text = ("\ufeff" + HEADER
            + 'LP-1,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.1,1,23.1,113.2,"Jiangbin Rd,\nnorth side",a\n'
            + "\n"
            + "LP-2,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.2,1,23.1,113.2,,a;b\n")
    rows = read_csv(text)
    assert [(r.line, r.fields["id"]) for r in rows] == [(2, "LP-1"), (5, "LP-2")]
    assert rows[0].fields["landmark"] == "Jiangbin Rd,\nnorth side"


def test_file_problems_are_reported_together() -> None:
    with pytest.raises(ImportRejected) as err:
        read_csv("id,kind,colour,lat,lat\nX,lamp_controller,red,1,2,3,4\n")
    assert [str(p) for p in err.value.problems] == [
        "line 1: colour: unknown column (columns: " + ", ".join(COLUMNS) + ")",
        "line 1: lat: column appears twice",
        "line 1: profile: required column is missing",
        "line 1: transport: required column is missing",
        "line 1: lon: required column is missing",
        "line 2: row: 7 cells but the header has 5",
    ]


def test_empty_file() -> None:
    with pytest.raises(ImportRejected, match="bad row"):
        read_csv("")


def _rows(*rows: dict[str, str]) -> list[ImportRow]:
    return [ImportRow(line, fields) for line, fields in enumerate(rows, start=2)]


def test_plan_names_every_bad_row_and_sorts_the_good_ones() -> None:
    existing = {"LP-BY-000123": device_from_fields(LAMP)}
    plan = plan_import(_rows(
        LAMP,                                                   # unchanged
        {**LAMP, "id": "LP-2", "lat": "91"},                    # bad
        {**GAUGE, "profile": "sw-lamp-controller"},            # bad: kind and transport
        {**LAMP, "id": "LP-3"},                                 # added
        {**LAMP, "id": "LP-3"},                                 # duplicate in the file
        {**GAUGE, "id": "CG-2", "thresholds": "water_lvl_mm.red=3"},  # unknown metric
    ), existing, LIBRARY, update=False)
    assert [d.id for d in plan.unchanged] == ["LP-BY-000123"]
    assert [d.id for d in plan.added] == ["LP-3"]
    assert [str(p) for p in plan.problems] == [
        "line 3: lat: Input should be less than or equal to 90 (got 91)",
        "line 4: kind: profile sw-lamp-controller is for lamp_controller devices, not culvert_gauge",
        "line 4: transport: profile sw-lamp-controller speaks modbus; use transport modbus-tcp, modbus-rtu or "
        "modbus-rtu-over-tcp",
        "line 4: thresholds: profile sw-lamp-controller has no metric 'water_level_mm' (metrics: dim_level_pct, "
        "flash_mode, clock_epoch_s, relay_on, supply_voltage_v, lamp_current_a, power_w, energy_kwh, power_factor, "
        "lamp_running_hours, fault_bits, controller_temp_c)",
        "line 6: id: 'LP-3' is also on line 5",
        "line 7: thresholds: profile sw-culvert-gauge-mqtt has no metric 'water_lvl_mm' (metrics: water_level_mm, "
        "battery_v, signal_quality_pct)",
    ]


def test_changed_rows_need_update_and_keep_columns_the_file_lacks() -> None:
    before = device_from_fields({**LAMP, "notes": "replaced driver 2026-02"})
    changed = {k: v for k, v in LAMP.items() if k != "notes"} | {"site": "Liwan"}
    refused = plan_import(_rows(changed), {before.id: before}, LIBRARY, update=False)
    assert [str(p) for p in refused.problems] == [
        "line 2: id: 'LP-BY-000123' is already registered with other values (use --update to change it)"]
    plan = plan_import(_rows(changed), {before.id: before}, LIBRARY, update=True)
    ((old, new),) = plan.updated
    assert old == before
    assert new.site == "Liwan"
    assert new.notes == "replaced driver 2026-02"


def test_an_update_may_change_transport_without_the_old_address() -> None:
    before = device_from_fields(LAMP)
    row = {"id": LAMP["id"], "transport": "modbus-rtu", "serial_port": "/dev/ttyUSB1", "unit": "4"}
    plan = plan_import(_rows(row), {before.id: before}, LIBRARY, update=True)
    assert not plan.problems
    assert plan.updated[0][1].bus_key == "rtu:///dev/ttyUSB1"


def test_an_import_follows_the_lifecycle() -> None:
    before = device_from_fields({**LAMP, "status": "registered"})
    plan = plan_import(_rows({**LAMP, "status": "active"}), {before.id: before}, LIBRARY, update=True)
    assert [p.field for p in plan.problems] == ["status"]


@pytest.mark.parametrize("current", list(DeviceStatus))
def test_lifecycle_table(current: DeviceStatus) -> None:
    for wanted in DeviceStatus:
        if wanted == current or wanted in ALLOWED[current]:
            check_status_change(current, wanted)
        else:
            with pytest.raises(StatusChangeRefused, match=f"status: {current.value} → {wanted.value}"):
                check_status_change(current, wanted)
    assert DeviceStatus.commissioned in ALLOWED[DeviceStatus.registered]
    assert DeviceStatus.active not in ALLOWED[DeviceStatus.registered]
