"""``streetwatch simulate`` as a user runs it."""

from __future__ import annotations

import asyncio
import csv
import socket
from pathlib import Path

import pytest

from device_registry import open_registry
from gateway.cli import main


def test_nothing_to_simulate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate"]) == 2
    assert capsys.readouterr().err.strip() == \
        "streetwatch: error: nothing to simulate: give --lamps, --gauges and/or --probes"


@pytest.mark.parametrize(("args", "message"), [
    (["--rain", "30s@80"], "--rain: rain '30s@80': expected START+DURATION@INTENSITY"),
    (["--faults", "lamp_failure:9"], "fault lamp/lamp_failure:9: needs 9 lamp(s) without a fault, 2 left"),
    (["--duration", "forever"], "--duration: 'forever' is not a duration"),
    (["--culvert-lag", "0s", "--gauges", "1"], "lag_s and drain_s must be positive"),
])
def test_mistakes_are_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--lamps", "2", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_runs_says_where_and_writes_the_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "fleet.csv"
    code = main(["simulate", "--lamps", "5", "--probes", "2", "--probe-transport", "modbus-rtu", "--rain",
                 "0s+10s@50mm/h", "--faults", "lamp_failure:1", "--csv", str(target), "--duration", "0.6s",
                 "--status-every", "0.25s"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "5 lamp(s) LP-00001..LP-00005 on 127.0.0.1:" in out
    assert "2 probe(s) WQ-001..WQ-002 on /" in out and "(modbus-rtu, units 1-2)" in out
    assert "fault lamp/lamp_failure:1: LP-" in out
    assert f"wrote 7 device(s) to {target}" in out
    assert "t=0s | rain 50 mm/h" in out
    with target.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["LP-00001", "LP-00002", "LP-00003", "LP-00004", "LP-00005",
                                       "WQ-001", "WQ-002"]
    assert rows[0]["port"] in out and rows[5]["serial_port"].endswith("/client")


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulate", "--lamps", "1", "--base-port", str(port), "--duration", "0.1s"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"streetwatch: error: cannot listen on 127.0.0.1:{port} for the lamps (is the port in use?)"]


@pytest.mark.services
def test_register_puts_the_devices_in_the_registry(database_url: str, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", database_url)
    args = ["simulate", "--lamps", "3", "--register", "--duration", "0.1s", "--base-port", "0"]
    assert main(args) == 0
    assert "registered in" in capsys.readouterr().out
    assert main(args) == 0  # again: new free ports, so the addresses are updated
    assert "0 added, 3 updated" in capsys.readouterr().out

    async def registered() -> list[tuple[str, str]]:
        async with open_registry(database_url) as registry:
            return [(d.id, d.transport.value) for d in await registry.list()]

    assert asyncio.run(registered()) == [("LP-00001", "modbus-tcp"), ("LP-00002", "modbus-tcp"),
                                         ("LP-00003", "modbus-tcp")]


async def test_sigterm_stops_simulate_cleanly_with_a_summary() -> None:
    # As systemd or `kill` stop it: exit 0, a summary, no traceback (docs/simulators.md).
    import asyncio
    import signal
    import sys

    from benchmarks.servers import free_port as port_for

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "simulate", "--lamps", "2", "--base-port", str(port_for()),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        async with asyncio.timeout(20):
            while b"running" not in await process.stdout.readline():
                pass
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert b"Traceback" not in err and b"CancelledError" not in err, err.decode()
    assert process.returncode == 0
    assert out.decode().strip().splitlines()[-1].startswith("stopped: t=")
