"""The installer's commands as an installer types them, on both stores."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer

from device_registry.cli import device_app, group_app, profile_app
from device_registry.observed import Observed, latest_readings, set_latest_readings
from device_registry.profile import SHIPPED_PROFILES_DIR
from streetwatch.database import Database
from streetwatch.passwords import verify_password
from streetwatch.readings import Reading
from tests.device_registry.conftest import Cli
from tests.fixtures.cli import one_error as _one_error

pytestmark = pytest.mark.services

ADD_LAMP = ["device", "add", "LP-BY-000123", "--kind", "lamp_controller", "--profile", "sw-lamp-controller",
            "--transport", "modbus-tcp", "--address", "10.20.0.15", "--unit", "1", "--lat", "23.1291",
            "--lon", "113.2644", "--site", "Baiyun", "--group", "riverside-night", "--tag", "pole=steel"]
ADD_GAUGE = ["device", "add", "CG-TH-0007", "--kind", "culvert_gauge", "--profile", "sw-culvert-gauge-modbus",
             "--transport", "modbus-rtu", "--address", "/dev/ttyUSB0", "--baudrate", "19200", "--parity", "E",
             "--unit", "7", "--lat", "23.14", "--lon", "113.33", "--site", "Tianhe",
             "--threshold", "water_level_mm.red=800", "--threshold", "water_level_mm.orange=500"]
HEADER = "id,kind,profile,transport,host,port,unit,lat,lon,site,groups,tags,thresholds\n"


def test_register_list_show_update_retire(cli: Cli) -> None:
    code, out, _ = cli(*ADD_LAMP, "--by", "installer-7")
    assert code == 0 and "registered LP-BY-000123" in out and "device probe LP-BY-000123 --commission" in out
    assert cli(*ADD_GAUGE)[0] == 0

    code, out, _ = cli("device", "list")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["ID", "KIND", "PROFILE", "ADDRESS", "SITE", "GROUPS", "STATUS"]
    assert "/dev/ttyUSB0 19200 8E1 unit 7" in lines[1] and "10.20.0.15:502 unit 1" in lines[2]
    code, out, _ = cli("device", "list", "--group", "riverside-night", "--format", "json")
    (record,) = json.loads(out)
    assert record["address"] == {"transport": "modbus-tcp", "host": "10.20.0.15", "port": 502, "unit": 1}
    code, out, _ = cli("device", "list", "--kind", "culvert_gauge", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["thresholds"] == "water_level_mm.red=800;water_level_mm.orange=500"
    assert cli("device", "list", "--tag", "pole=concrete", "--format", "json")[1].strip() == "[]"

    code, out, _ = cli("device", "show", "CG-TH-0007", "--format", "json")
    shown = json.loads(out)
    assert (shown["baudrate"], shown["parity"], shown["unit"], shown["status"]) == ("19200", "E", "7", "registered")

    code, out, _ = cli("device", "update", "CG-TH-0007", "--set", "site=Tianhe-N", "--set", "status=commissioned",
                       "--by", "probe")
    assert out.splitlines() == ["CG-TH-0007: site: Tianhe → Tianhe-N", "CG-TH-0007: status: registered → commissioned"]
    assert _one_error(cli("device", "update", "CG-TH-0007", "--set", "unit=0")) == \
        "unit: Input should be greater than or equal to 1 (got 0)"
    assert cli("device", "retire", "LP-BY-000123", "--note", "pole knocked down")[0] == 0
    assert "LP-BY-000123" not in cli("device", "list")[1]
    assert "LP-BY-000123" in cli("device", "list", "--status", "retired")[1]

    code, out, _ = cli("device", "history", "LP-BY-000123", "--format", "json")
    history = json.loads(out)
    assert (history[0]["action"], history[0]["by"]) == ("added", "installer-7")
    assert history[-1]["changes"] == {"status": ["registered", "retired"]}
    assert history[-1]["note"] == "pole knocked down"


USER_ERRORS = [
    (["--address", "10.20.0.300"], "host: '10.20.0.300' is not a valid IPv4 address"),
    (["--address", "10.20.0.15:99999"], "port: Input should be less than or equal to 65535 (got 99999)"),
    (["--lat", "91"], "lat: Input should be less than or equal to 90 (got 91)"),
    (["--unit", "248"], "unit: Input should be less than or equal to 247 (got 248)"),
    (["--profile", "acme-lc200"], "profile: unknown profile 'acme-lc200' (known: sw-culvert-gauge-modbus, "
                                  "sw-culvert-gauge-mqtt, sw-lamp-controller, sw-lamp-controller-mqtt, "
                                  "sw-rain-gauge-modbus, sw-rain-gauge-mqtt, sw-water-quality-probe, "
                                  "sw-water-quality-probe-mqtt)"),
    (["--kind", "lamp"], "kind: unknown kind 'lamp' (known: culvert_gauge, lamp_controller, rain_gauge, "
                         "water_quality_probe)"),
    (["--baudrate", "9600"], "baudrate: not used by transport modbus-tcp"),
    (["--tag", "steel"], "--tag: 'steel' is not KEY=VALUE (e.g. --tag pole=steel)"),
    (["--threshold", "power_w.red=x"], "thresholds: 'x' is not a number"),
    (["--transport", "mqtt"], "address: an mqtt device needs no address: its id names its topics"),
    (["--installed-on", "2026-02-30"], "installed_on: '2026-02-30' is not a date (YYYY-MM-DD)"),
]


def test_user_errors_are_one_line_naming_the_field(cli: Cli) -> None:
    for args, message in USER_ERRORS:
        assert _one_error(cli(*ADD_LAMP, *args)) == message
    assert cli("device", "list", "--format", "json")[1].strip() == "[]"


def test_duplicate_and_serial_errors(cli: Cli) -> None:
    assert cli(*ADD_LAMP)[0] == 0
    assert _one_error(cli(*ADD_LAMP)) == "id: device 'LP-BY-000123' is already registered"
    serial = [a if a != "19200" else "14400" for a in ADD_GAUGE]
    assert _one_error(cli(*serial)).startswith("baudrate: Input should be 1200, 2400, 4800, 9600, 19200")
    assert _one_error(cli(*ADD_GAUGE, "--stopbits", "3")).startswith("stopbits: Input should be 1 or 2 (got 3)")
    assert _one_error(cli("device", "show", "LP-NOPE")) == "id: no device 'LP-NOPE' is registered"


def test_import_reports_every_bad_row_then_imports_idempotently(cli: Cli, tmp_path: Path) -> None:
    good = "".join(f"LP-{n},lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.{n},,1,23.1,113.2,Baiyun,"
                   f"riverside-night,pole=steel,\n" for n in range(1, 6))
    bad = ("CG-1,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,,,,95,113.3,Tianhe,,,water_level_mm.red=800\n"
           "LP-9,lamp_controller,sw-lamp-controller,modbus-tcp,10.0.0.9,,300,23.1,113.2,,,,\n")
    path = tmp_path / "devices.csv"
    path.write_text(HEADER + good + bad)
    code, out, err = cli("device", "import", str(path))
    assert code == 2
    assert err.strip().splitlines() == [
        f"{path}: line 7: lat: Input should be less than or equal to 90 (got 95)",
        f"{path}: line 8: unit: Input should be less than or equal to 247 (got 300)",
        "streetwatch: error: 2 bad row(s), nothing imported (use --skip-invalid to import the good rows)",
    ]
    assert cli("device", "list", "--format", "json")[1].strip() == "[]"

    code, out, err = cli("device", "import", str(path), "--skip-invalid", "--by", "bulk")
    assert code == 0
    assert out.strip() == f"{path}: imported 5 new, 0 updated, 0 unchanged, 2 bad row(s) skipped"
    path.write_text(HEADER + good)
    assert cli("device", "import", str(path))[1].strip() == \
        f"{path}: imported 0 new, 0 updated, 5 unchanged, 0 bad row(s) skipped"
    path.write_text(HEADER + good.replace("Baiyun", "Liwan"))
    code, out, err = cli("device", "import", str(path))
    assert code == 2
    assert err.splitlines()[0] == (f"{path}: line 2: id: 'LP-1' is already registered with other values "
                                   "(use --update to change it)")
    assert err.splitlines()[-1].startswith("streetwatch: error: 5 bad row(s), nothing imported")
    assert "0 new, 5 updated" in cli("device", "import", str(path), "--update")[1]
    assert len(json.loads(cli("device", "list", "--site", "Liwan", "--format", "json")[1])) == 5


def test_export_then_import_elsewhere_reproduces_the_registry(cli: Cli, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cli(*ADD_LAMP)
    cli(*ADD_GAUGE)
    cli("device", "add", "CG-M-1", "--kind", "culvert_gauge", "--profile", "sw-culvert-gauge-mqtt", "--transport",
        "mqtt", "--username", "cg", "--password", "s3cret", "--lat", "23", "--lon", "113", "--landmark", "Jiangbin, 3")
    cli("device", "retire", "LP-BY-000123")
    backup = tmp_path / "backup.csv"
    assert cli("device", "export", "--format", "csv", "-o", str(backup), "--include-secrets")[0] == 0
    exported_json = json.loads(cli("device", "export", "--format", "json")[1])
    assert "password" not in exported_json[0]["address"]

    monkeypatch.setenv("STREETWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert "3 new" in cli("device", "import", str(backup))[1]
    again = json.loads(cli("device", "export", "--format", "json", "--include-secrets")[1])
    by_id = {d["id"]: d for d in again}
    assert by_id["LP-BY-000123"]["status"] == "retired"
    assert verify_password("s3cret", by_id["CG-M-1"]["address"]["password"])
    assert b"s3cret" not in (tmp_path / "elsewhere.db").read_bytes()  # stored as its hash only
    assert [d for d in again if d["id"] != "CG-M-1"] == \
        [d for d in exported_json if d["id"] != "CG-M-1"]


def test_profiles(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("profile", "show", "sw-culvert-gauge-modbus")
    assert out.splitlines()[0] == ("sw-culvert-gauge-modbus: culvert_gauge over modbus "
                                   f"(shipped: {SHIPPED_PROFILES_DIR / 'sw-culvert-gauge-modbus.toml'})")
    assert any(line.split()[:2] == ["battery_v", "input"] and "V" in line.split() for line in out.splitlines())
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "Bad Name"\nkind = "lamp_controller"\ntransport = "modbus"\n'
                   '[[modbus.metrics]]\nname = "a"\naddress = 0\ntype = "u32"\ncount = 1\n'
                   '[[modbus.metrics]]\nname = "b"\naddress = 1\ntype = "f33"\n')
    code, out, err = cli("profile", "validate", str(bad))
    assert code == 2
    assert out.splitlines() == [f"{bad}: modbus.metrics[1] (b).type: unknown value 'f33': input should be 'u16', "
                                "'i16', 'u32', 'i32', 'f32', 'u64', 'i64', 'f64', 'bitfield', 'string' or 'bool'"]
    assert err.strip().splitlines() == ["streetwatch: error: 1 of 1 profile file(s) have problems"]
    bad.write_text(bad.read_text().replace("f33", "u16").replace("address = 1", "address = 0"))
    code, out, err = cli("profile", "validate", str(bad))
    assert out.splitlines() == [
        f"{bad}: name: 'Bad Name' must be lower-case letters, digits, '.', '_', '-' (≤ 64)",
        f"{bad}: modbus.metrics[0] (a).count: u32 takes 2 register(s), not 1",
        f"{bad}: modbus.metrics[1] (b).address: holding register 0 overlaps modbus.metrics[0] (a) at 0..0",
    ]
    code, out, err = cli("profile", "add", str(bad))
    assert code == 2
    assert err.strip().splitlines()[-1] == f"streetwatch: error: {bad}: 3 problem(s); nothing added"

    good = tmp_path / "acme.yaml"
    good.write_text("name: acme-lc200\nkind: lamp_controller\ntransport: modbus\nmodbus:\n  metrics:\n"
                    "    - {name: dim_level_pct, address: 0, writable: true, unit: '%'}\n")
    assert cli("profile", "validate", str(good))[1].strip() == \
        f"{good}: ok (acme-lc200: lamp_controller over modbus, 1 metrics)"
    assert cli("profile", "add", str(good))[1].strip() == "profile acme-lc200: added (lamp_controller over modbus, " \
                                                           "1 metrics)"
    listed = {row["name"]: row for row in csv.DictReader(io.StringIO(cli("profile", "list", "--format", "csv")[1]))}
    assert listed["acme-lc200"]["source"] == "database"
    assert listed["sw-lamp-controller"]["source"] == "shipped"
    assert cli(*[a if a != "sw-lamp-controller" else "acme-lc200" for a in ADD_LAMP])[0] == 0
    assert _one_error(cli("profile", "show", "acme-lc201")).startswith("profile: unknown profile 'acme-lc201'")


def test_groups(cli: Cli) -> None:
    cli(*ADD_LAMP)
    cli(*ADD_GAUGE)
    assert cli("group", "add", "flood-watch", "site:Tianhe", "LP-BY-000123")[1].strip() == \
        "group flood-watch: added 2 device(s)"
    assert cli("group", "list", "--format", "csv")[1].strip().splitlines() == [
        "group,devices", "flood-watch,2", "riverside-night,1"]
    assert [line.split()[0] for line in cli("group", "show", "flood-watch")[1].strip().splitlines()] == [
        "ID", "CG-TH-0007", "LP-BY-000123"]
    assert cli("group", "remove", "flood-watch", "LP-BY-000123")[1].strip() == "group flood-watch: removed 1 device(s)"
    assert _one_error(cli("group", "add", "flood-watch", "site:Nowhere")) == "target 'site:Nowhere' matches no device"
    assert _one_error(cli("group", "add", "flood watch", "LP-BY-000123")).startswith("group: 'flood watch'")


@pytest.mark.parametrize("app", [device_app, profile_app, group_app])
def test_every_command_has_an_example(app: typer.Typer) -> None:
    for command in app.registered_commands:
        assert command.callback is not None
        assert "Example: streetwatch " in (command.callback.__doc__ or ""), command.name


def test_show_reports_what_the_telemetry_store_saw(cli: Cli) -> None:
    cli(*ADD_GAUGE)
    assert "last_seen        never" in cli("device", "show", "CG-TH-0007")[1]  # the store has seen nothing
    seen = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
    asked: list[str] = []

    async def from_store(db: Database, device_id: str) -> Observed:
        asked.append(device_id)
        assert await db.fetch_value("SELECT count(*) FROM devices") == 1  # the registry's own database
        return Observed(seen, (Reading(device_id, "water_level_mm", seen, 312.0),
                               Reading(device_id, "battery_v", seen, 3.61)))

    wired = latest_readings()
    set_latest_readings(from_store)
    try:
        code, out, _ = cli("device", "show", "CG-TH-0007")
        assert code == 0
        data = json.loads(cli("device", "show", "CG-TH-0007", "--format", "json")[1])
    finally:
        set_latest_readings(wired)
    assert asked == ["CG-TH-0007", "CG-TH-0007"]
    assert "last_seen        2026-07-01 04:00:00+00:00" in out
    assert [line.split()[:3] for line in out.splitlines()[-2:]] == [["water_level_mm", "312.0", "mm"],
                                                                    ["battery_v", "3.61", "V"]]
    assert data["last_seen"] == "2026-07-01 04:00:00+00:00"
    assert data["readings"][1] == {"metric": "battery_v", "value": 3.61, "unit": "V", "at": "2026-07-01 04:00:00+00:00"}


def test_db_migrate_includes_the_registry(cli: Cli) -> None:
    assert cli("db", "migrate")[0] == 0
    status = json.loads(cli("db", "status", "--format", "json")[1])
    assert {"component": "device_registry", "version": 1} in [
        {"component": s["component"], "version": s["version"]} for s in status]
    assert all(s["applied_at"] != "pending" for s in status)


def test_a_real_process_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "STREETWATCH_DATA_DIR": str(tmp_path / "data")}
    add = [sys.executable, "-m", "gateway", *ADD_LAMP]
    assert subprocess.run(add, env=env, cwd=tmp_path, capture_output=True, check=False).returncode == 0
    again = subprocess.run(add, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr.splitlines() == ["streetwatch: error: id: device 'LP-BY-000123' is already registered"]


def test_profile_validate_and_add_refuse_an_unbounded_derived_metric(cli: Cli, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.toml"
    hostile.write_text('name = "hostile"\nkind = "culvert_gauge"\ntransport = "modbus"\n'
                       '[[modbus.metrics]]\nname = "d"\naddress = 0\n'
                       '[[derived]]\nname = "boom"\nexpression = "d + 10**10**10"\n')
    code, out, err = cli("profile", "validate", str(hostile))
    assert code == 2 and "Traceback" not in err
    assert out.splitlines() == [f"{hostile}: derived[0] (boom).expression: the exponent of ** must be a written "
                                "number of at most 8 (e.g. x ** 2, x ** 0.5): '10 ** 10 ** 10'"]
    code, _, err = cli("profile", "add", str(hostile))
    assert code == 2
    assert err.strip().splitlines()[-1] == f"streetwatch: error: {hostile}: 1 problem(s); nothing added"
    hostile.write_text(hostile.read_text().replace("d + 10**10**10", "not " * 3000 + "d"))
    code, out, err = cli("profile", "validate", str(hostile))
    assert code == 2 and "Traceback" not in err
    assert out.startswith(f"{hostile}: derived[0] (boom).expression: longer than 500 characters")
