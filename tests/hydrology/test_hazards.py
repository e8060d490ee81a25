"""Hazard points: their own levels and no-pass depth, their state from their gauges, their levels on the gauges."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.cli import main
from hydrology.hazards import HazardError, HazardPoint
from streetwatch.config import DatabaseUrl
from streetwatch.readings import Reading
from telemetry_store import open_store

DEVICES = """id,kind,profile,transport,lat,lon,site,tags
CG-1,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,31.19,121.43,Xuhui,hazard=XJH-UP
CG-2,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,31.19,121.44,Xuhui,hazard=XJH-UP
CG-3,culvert_gauge,sw-culvert-gauge-mqtt,mqtt,31.20,121.45,Xuhui,
"""


def test_a_point_is_at_its_deepest_gauge() -> None:
    point = HazardPoint("LR-1", "Riverside low road", "low_road", None, 150.0, {"yellow": 100.0, "red": 200.0})
    assert point.state({}).depth_mm is None
    state = point.state({"CG-1": 90.0, "CG-2": 160.0})
    assert (state.deepest_gauge, state.level, state.passable, state.surface_m) == ("CG-2", "yellow", False, None)
    assert point.state({"CG-1": 100.0}).level is None  # a level is passed, not touched
    with pytest.raises(HazardError, match="level red 90 must be above yellow 100"):
        HazardPoint("LR-2", "x", "low_road", None, 150.0, {"yellow": 100.0, "red": 90.0})


async def _write(url: str, readings: list[Reading]) -> None:
    async with open_store(DatabaseUrl.parse(url)) as store:
        await store.write(readings)


def test_hazard_points_from_the_command_line(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    (tmp_path / "devices.csv").write_text(DEVICES)
    assert main(["device", "import", str(tmp_path / "devices.csv")]) == 0
    assert main(["water", "hazard", "add", "XJH-UP", "--name", "Xujiahui underpass", "--kind", "underpass",
                 "--no-pass-depth", "300", "--datum", "3.2", "--yellow", "150", "--orange", "250",
                 "--red", "400", "--landmark", "Zhaojiabang Rd at Tianyaoqiao Rd"]) == 0
    assert main(["water", "hazard", "add", "LR-9", "--name", "Empty", "--kind", "low_road",
                 "--no-pass-depth", "200"]) == 0
    now = datetime.now(UTC)
    asyncio.run(_write(database_url, [Reading("CG-1", "water_level_mm", now, 262.0),
                                      Reading("CG-2", "water_level_mm", now, 240.0),
                                      Reading("CG-3", "water_level_mm", now, 900.0)]))
    capsys.readouterr()

    assert main(["water", "hazard", "list", "--format", "json"]) == 0
    rows = {row["hazard"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["XJH-UP"] == {"hazard": "XJH-UP", "name": "Xujiahui underpass",
                              "landmark": "Zhaojiabang Rd at Tianyaoqiao Rd", "kind": "underpass",
                              "gauges": "CG-1 CG-2", "depth_mm": 262.0, "level": "orange", "passable": True,
                              "no_pass_mm": 300.0, "surface_m": 3.462}
    assert (rows["LR-9"]["gauges"], rows["LR-9"]["depth_mm"], rows["LR-9"]["passable"]) == ("", None, None)
    assert rows["LR-9"]["landmark"] == ""

    assert main(["water", "hazard", "apply", "XJH-UP", "--by", "duty-officer"]) == 0
    assert capsys.readouterr().out.strip() == "hazard point XJH-UP: levels set on 2 of 2 gauge(s) (CG-1, CG-2)"
    assert main(["device", "show", "CG-1", "--format", "json"]) == 0
    shown = capsys.readouterr().out
    assert '"water_level_mm"' in shown and "400" in shown and "250" in shown
    assert main(["water", "hazard", "apply", "XJH-UP"]) == 0
    assert capsys.readouterr().out.strip() == "hazard point XJH-UP: levels set on 0 of 2 gauge(s)"

    assert main(["water", "hazard", "apply", "LR-9"]) == 2
    assert capsys.readouterr().err.strip() == ("streetwatch: error: hazard point LR-9 has no gauge (tag one: "
                                               "device update ID --set tags=hazard=LR-9)")
    assert main(["water", "hazard", "apply", "NOPE"]) == 2
    assert "no hazard point 'NOPE'" in capsys.readouterr().err
    assert main(["water", "hazard", "add", "X", "--name", "x", "--kind", "bridge", "--no-pass-depth", "1"]) == 2
    assert capsys.readouterr().err.strip() == ("streetwatch: error: --kind: 'bridge'; one of culvert, underpass, "
                                               "low_road")
