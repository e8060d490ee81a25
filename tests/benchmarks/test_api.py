"""``streetwatch bench api``, run small: a real ``streetwatch serve`` on TimescaleDB, every figure reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.servers import PostgresServer
from gateway.cli import main

pytestmark = pytest.mark.services
FIGURES = {"devices_page", "geojson", "geojson_cold", "readings_1m", "sse_alert"}


def test_the_api_benchmark_reports_each_figure_beside_its_bare_query(
        postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres_server.create_database("bench_api_small")
    out = tmp_path / "figures.json"
    assert main(["bench", "api", "--devices", "2500", "--samples", "20", "--geojson-samples", "2",
                 "--sse-clients", "20", "--alerts", "2", "--poll-s", "0.2", "--database-url", url,
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["devices"], report["streets"], report["street_devices"]) == (2500, 2, 2000)
    figures = report["figures"]
    assert set(figures) == FIGURES
    for name, item in figures.items():
        assert 0 < item["p50_ms"] <= item["p99_ms"] <= item["max_ms"], name
        assert 0 < item["floor_p50_ms"] <= item["floor_p99_ms"], name
        assert item["met"] == (item["p99_ms"] < item["target_ms"]), name
    assert figures["devices_page"]["samples"] == 20
    assert "(1000 devices on the page)" in figures["devices_page"]["what"]
    assert "2,500 features" in figures["geojson"]["what"]
    assert "1,440 buckets" in figures["readings_1m"]["what"]
    sse = figures["sse_alert"]
    assert sse["samples"] == 40 and sse["detail"].startswith("40/40 deliveries")  # every client got both alerts
    assert sse["max_ms"] < 10_000  # none timed out
    printed = capsys.readouterr().out
    assert printed.count("bare  p50") == len(FIGURES)
