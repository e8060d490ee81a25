"""``streetwatch readings …`` and ``streetwatch db retention`` as an operator and a script use them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.cli import main
from streetwatch.config import DatabaseUrl, Settings, StoreSettings
from streetwatch.readings import Reading
from telemetry_store import FlaggedReading, cli, open_store

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


@pytest.fixture
def populated(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("STREETWATCH_TIMEZONE", "Asia/Shanghai")
    readings = [Reading("gauge-7", "water_level_mm", T0 + timedelta(minutes=10 * i), 100.0 + i) for i in range(12)]
    readings += [Reading("lamp-1", "power_w", T0, 41.5), Reading("lamp-1", "dim_level_pct", T0, 80.0),
                 Reading("probe-2", "ph", T0 - timedelta(days=400), 7.25)]

    async def fill() -> None:
        async with open_store(DatabaseUrl.parse(database_url), StoreSettings()) as store:
            await store.write(readings)

    asyncio.run(fill())
    saved = (cli.hooks.device_filter, cli.hooks.unit_for)
    yield database_url
    cli.hooks.device_filter, cli.hooks.unit_for = saved


def test_latest_shows_local_times_and_units(populated: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["readings", "latest", "--device", "lamp-1", "--device", "gauge-7", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["device"], r["metric"], r["value"], r["unit"]) for r in rows] == [
        ("gauge-7", "water_level_mm", 111.0, "mm"), ("lamp-1", "dim_level_pct", 80.0, "%"),
        ("lamp-1", "power_w", 41.5, "W")]
    assert rows[2]["time"] == "2026-03-01T12:00:00+08:00"
    assert main(["readings", "latest"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["DEVICE", "METRIC", "VALUE", "UNIT", "TIME"]
    assert len(table) == 1 + 4
    assert "probe-2  ph" in table[-1] and "2025-01-25 12:00:00+08:00" in table[-1]


def test_history_raw_and_bucketed(populated: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["readings", "history", "gauge-7", "water_level_mm", "--from", "2026-03-01T12:15",
                 "--to", "2026-03-01T13:00", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["time"], r["value"], r["unit"]) for r in rows] == [
        ("2026-03-01T12:20:00+08:00", "102", "mm"), ("2026-03-01T12:30:00+08:00", "103", "mm"),
        ("2026-03-01T12:40:00+08:00", "104", "mm"), ("2026-03-01T12:50:00+08:00", "105", "mm")]
    assert main(["readings", "history", "gauge-7", "water_level_mm", "--from", "2026-03-01T04:00Z",
                 "--to", "2026-03-01T06:00Z", "--bucket", "1h", "--format", "json"]) == 0
    buckets = json.loads(capsys.readouterr().out)
    assert [(b["bucket"], b["min"], b["max"], b["avg"], b["count"]) for b in buckets] == [
        ("2026-03-01T12:00:00+08:00", 100.0, 105.0, 102.5, 6), ("2026-03-01T13:00:00+08:00", 106.0, 111.0, 108.5, 6)]


def test_flagged_readings_are_shown_alone_and_in_the_history(populated: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    spike = FlaggedReading("gauge-7", "water_level_mm", T0 + timedelta(minutes=30), 103.0, ("spike", "gradient"),
                           "gauge-quality")
    battery = FlaggedReading("gauge-7", "battery_v", T0 + timedelta(minutes=40), 3.1, ("low_battery",), "gauge-quality")

    async def flag() -> None:
        async with open_store(DatabaseUrl.parse(populated), StoreSettings()) as store:
            await store.write_flags([spike, battery])

    asyncio.run(flag())
    assert main(["readings", "flagged", "--from", "2026-03-01T12:00", "--to", "2026-03-01T14:00",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"time": "2026-03-01T12:30:00+08:00", "device": "gauge-7", "metric": "water_level_mm", "value": 103.0,
         "unit": "mm", "flags": "spike,gradient", "rule": "gauge-quality"},
        {"time": "2026-03-01T12:40:00+08:00", "device": "gauge-7", "metric": "battery_v", "value": 3.1,
         "unit": "V", "flags": "low_battery", "rule": "gauge-quality"}]
    assert main(["readings", "flagged", "--metric", "battery_v", "--from", "2026-03-01T12:00",
                 "--to", "2026-03-01T14:00", "--format", "csv"]) == 0
    assert [r["flags"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ["low_battery"]
    assert main(["readings", "history", "gauge-7", "water_level_mm", "--from", "2026-03-01T12:15",
                 "--to", "2026-03-01T12:45", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["value"], r["flags"]) for r in rows] == [("102", ""), ("103", "spike,gradient"), ("104", "")]


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "yesterday-ish"], "'yesterday-ish' is not a time"),
    (["--bucket", "5 minutes"], "'5 minutes' is not a duration"),
    (["--from", "now", "--to", "-1h"], "--to (-1h) must be after --from (now)"),
])
def test_history_mistakes_are_one_line(
    populated: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["readings", "history", "gauge-7", "water_level_mm", *args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and message in err[0]


def test_site_and_kind_filters_come_from_a_hook(populated: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def at_site(settings: Settings, site: str | None, kind: str | None) -> list[str]:
        assert isinstance(settings, Settings)
        return {"north": ["lamp-1", "probe-2"]}.get(site or "", [])

    cli.configure(device_filter=at_site, unit_for=lambda device, metric: f"u({device})")
    assert main(["readings", "latest", "--site", "north", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["device"], r["metric"], r["unit"]) for r in rows] == [
        ("lamp-1", "dim_level_pct", "u(lamp-1)"), ("lamp-1", "power_w", "u(lamp-1)"), ("probe-2", "ph", "u(probe-2)")]


def test_db_retention_shows_then_applies(populated: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)  # the command applies retention at the real now
    old, recent = Reading("probe-9", "ph", now - timedelta(days=400), 6.5), Reading("probe-9", "ph", now, 7.0)

    async def fill() -> None:
        async with open_store(DatabaseUrl.parse(populated), StoreSettings()) as store:
            await store.write([old, recent])

    asyncio.run(fill())
    assert main(["db", "retention", "--format", "json"]) == 0
    plan = {row["resolution"]: row for row in json.loads(capsys.readouterr().out)}
    assert plan["raw"]["keep"] == "90 days" and plan["1h"]["keep"] == "forever"
    assert not plan["raw"]["to drop"].startswith("0 ")
    assert plan["1h"]["to drop"].startswith("0 ")
    assert main(["db", "retention", "--apply"]) == 0
    assert "dropped" in capsys.readouterr().out.splitlines()[0].lower()
    assert main(["readings", "history", "probe-9", "ph", "--from", "2020-01-01", "--format", "json"]) == 0
    assert [row["value"] for row in json.loads(capsys.readouterr().out)] == [7.0]
    assert main(["db", "retention", "--format", "csv"]) == 0
    assert next(csv.DictReader(io.StringIO(capsys.readouterr().out)))["to drop"].startswith("0 ")
