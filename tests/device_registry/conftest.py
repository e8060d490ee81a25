"""Fixtures for the registry tests: a registry on each store, and device rows to register."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from device_registry import Registry, open_registry
from gateway.cli import main
from streetwatch.clock import FakeClock

Cli = Callable[..., tuple[int, str, str]]

LAMP = {"id": "LP-BY-000123", "kind": "lamp_controller", "profile": "sw-lamp-controller",
        "transport": "modbus-tcp", "host": "10.20.0.15", "unit": "1", "lat": "23.1291", "lon": "113.2644",
        "site": "Baiyun", "groups": "riverside-night", "tags": "pole=steel"}
GAUGE = {"id": "CG-TH-0007", "kind": "culvert_gauge", "profile": "sw-culvert-gauge-mqtt", "transport": "mqtt",
         "lat": "23.1400", "lon": "113.3300", "landmark": "Tianhe Rd underpass", "site": "Tianhe",
         "groups": "underpass-hazard", "thresholds": "water_level_mm.orange=500;water_level_mm.red=800"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def registry(database_url: str, clock: FakeClock) -> AsyncIterator[Registry]:
    """A registry on a fresh SQLite file and, in a second run, on a fresh TimescaleDB database."""
    async with open_registry(database_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli(*args)`` → (exit code, stdout, stderr), on the store this run of the test uses."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("STREETWATCH_TIMEZONE", "UTC")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
