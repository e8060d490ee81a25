"""``streetwatch water …`` on both stores: sections, a probe's readings, imported samples, the daily report."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.cli import main
from streetwatch.config import DatabaseUrl
from streetwatch.readings import Reading
from telemetry_store import open_store

ZONE = ZoneInfo("Asia/Shanghai")
DEVICES = """id,kind,profile,transport,lat,lon,site,tags
WQ-1,water_quality_probe,sw-water-quality-probe-mqtt,mqtt,23.18,113.27,Baiyun,section=GZ-SJ-01
WQ-2,water_quality_probe,sw-water-quality-probe-mqtt,mqtt,23.19,113.28,Baiyun,section=GZ-SJ-01
"""
SAMPLES = """section,sampled_at,ph,dissolved_oxygen_mg_l,permanganate_index_mg_l,ammonia_nitrogen_mg_l,\
total_phosphorus_mg_l,total_nitrogen_mg_l
GZ-LX-01,2026-12-05 00:00,7.4,7.8,2.1,0.12,0.03,0.9
GZ-LX-01,2026-12-05 08:00,7.5,7.6,2.3,0.14,0.05,1.1
GZ-LX-01,2026-12-04 08:00,7.5,8.0,1.9,0.10,0.02,0.4
GZ-XX-09,2026-12-05 08:00,7.1,6.0,3.0,0.4,0.1,
GZ-LX-01,2026-12-05 12:00,7.4,seven,2.0,0.1,0.02,0.5
GZ-LX-01,2026-12-05T23:30:00+08:00,7.4,7.9,1.9,0.11,0.03,1.0
"""


@pytest.fixture
def water_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("STREETWATCH_TIMEZONE", "Asia/Shanghai")
    return database_url


async def _write(url: str, readings: list[Reading]) -> None:
    async with open_store(DatabaseUrl.parse(url)) as store:
        await store.write(readings)


def _probe_day(day: datetime, ammonia: float, oxygen: float) -> list[Reading]:
    """A reading of each parameter every 10 minutes over one local day, alternately ±0.1 around the mean."""
    out = []
    for step in range(144):
        at = day + timedelta(minutes=10 * step)
        wobble = 0.1 if step % 2 else -0.1
        for device in ("WQ-1", "WQ-2"):
            out += [Reading(device, "ammonia_nitrogen_mg_l", at, ammonia + wobble),
                    Reading(device, "dissolved_oxygen_mg_l", at, oxygen + wobble),
                    Reading(device, "ph", at, 7.3)]
    return out


def test_the_daily_report_classes_probes_and_imported_sections(
        water_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["water", "section", "add", "GZ-SJ-01", "--name", "Shijing bridge", "--river", "Shijing River",
                 "--area", "Baiyun", "--target", "III"]) == 0
    assert main(["water", "section", "add", "GZ-LX-01", "--name", "Luhu lake outlet", "--river", "Luhu",
                 "--area", "Yuexiu", "--water-body", "lake", "--target", "II"]) == 0
    (tmp_path / "devices.csv").write_text(DEVICES)
    assert main(["device", "import", str(tmp_path / "devices.csv")]) == 0
    # The probes: yesterday ammonia 0.8 (III), today 1.2 (IV, 0.2 times over III); the readings just
    # before and after the local day must not count.
    today = datetime(2026, 12, 5, tzinfo=ZONE)
    readings = _probe_day(today - timedelta(days=1), 0.8, 6.5) + _probe_day(today, 1.2, 6.5)
    readings += [Reading("WQ-1", "ammonia_nitrogen_mg_l", today - timedelta(seconds=1), 50.0),
                 Reading("WQ-1", "ammonia_nitrogen_mg_l", today + timedelta(days=2), 50.0)]
    asyncio.run(_write(water_env, readings))
    (tmp_path / "samples.csv").write_text(SAMPLES)
    capsys.readouterr()

    assert main(["water", "import", str(tmp_path / "samples.csv")]) == 2
    captured = capsys.readouterr()
    samples = tmp_path / "samples.csv"
    assert captured.err.splitlines() == [
        f"{samples}:5: section: unknown section 'GZ-XX-09' (add it first: streetwatch water section add)",
        f"{samples}:6: dissolved_oxygen_mg_l: 'seven' is not a number",
    ]
    assert captured.out.strip() == f"{samples}: 4 row(s) imported (24 value(s)); 2 row(s) refused"

    assert main(["water", "report", "--date", "2026-12-05", "--format", "json"]) == 0
    rows = {row["section"]: row for row in json.loads(capsys.readouterr().out)}
    river = rows["GZ-SJ-01"]
    assert (river["class"], river["target"], river["yesterday"], river["change"]) == ("IV", "III", "III", "worse")
    assert river["deciding"] == "ammonia_nitrogen_mg_l 1.2 (0.20x over III)"
    assert river["meets_target"] is False
    assert river["readings"] == 2 * 144 * 3
    # Lake, three samples on the day: TP mean 0.0367 (III in a lake), TN mean 1.0 (III); yesterday TN 0.4 (II).
    lake = rows["GZ-LX-01"]
    assert (lake["class"], lake["target"], lake["yesterday"], lake["change"]) == ("III", "II", "II", "worse")
    over = {p["metric"]: p["exceedance"] for p in lake["over_target"]}
    assert over == {"total_nitrogen_mg_l": pytest.approx(1.0), "total_phosphorus_mg_l": pytest.approx(0.467, abs=1e-3)}

    assert main(["water", "report", "--date", "2026-12-05", "--area", "Baiyun", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "section,name,river,area,class,target,deciding,yesterday,change"
    assert lines[1:] == ["GZ-SJ-01,Shijing bridge,Shijing River,Baiyun,IV,III,"
                         "ammonia_nitrogen_mg_l 1.2 (0.20x over III),III,worse"]

    assert main(["water", "report", "--date", "2026-12-07"]) == 0
    table = capsys.readouterr().out
    assert "(no data)" in table and "GZ-LX-01" in table


@pytest.mark.parametrize(("argv", "message"), [
    (["water", "report", "--date", "5.12.2026"], "--date: '5.12.2026' is not a date (YYYY-MM-DD)"),
    (["water", "section", "add", "S1", "--name", "n", "--river", "r", "--target", "VI"],
     "--target: unknown water class 'VI'; one of I, II, III, IV, V"),
    (["water", "section", "add", "S1", "--name", "n", "--river", "r", "--water-body", "sea"],
     "--water-body: 'sea'; one of river, lake"),
    (["water", "section", "add", "bad id", "--name", "n", "--river", "r"],
     "section id 'bad id': letters, digits, '.', '_', ':', '-', at most 64"),
    (["water", "import", "missing.csv"], "missing.csv: cannot read: [Errno 2] No such file or directory: "
                                         "'missing.csv'"),
])
def test_user_mistakes_are_one_line(water_env: str, capsys: pytest.CaptureFixture[str], argv: list[str],
                                    message: str) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"streetwatch: error: {message}"]


def test_a_section_added_twice_and_a_bad_header(water_env: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["water", "section", "add", "S1", "--name", "n", "--river", "r"]) == 0
    assert main(["water", "section", "add", "S1", "--name", "n", "--river", "r"]) == 2
    assert capsys.readouterr().err.strip() == "streetwatch: error: section 'S1' already exists"
    bad = tmp_path / "bad.csv"
    bad.write_text("section,time,ammonia\nS1,2026-12-05,0.3\n")
    assert main(["water", "import", str(bad)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:1: time: unknown column; a metric of GB 3838-2002 (e.g. ammonia_nitrogen_mg_l) or temperature_c",
        f"{bad}:1: ammonia: unknown column; a metric of GB 3838-2002 (e.g. ammonia_nitrogen_mg_l) or temperature_c",
        f"{bad}:1: sampled_at: required column is missing",
    ]
    assert main(["water", "section", "list", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["section,name,river,area,water_body,target", "S1,n,r,,river,"]
