"""Commissioning with `device probe` against a real Modbus server and a real broker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.servers import MosquittoServer, free_port
from device_registry import open_registry
from device_registry.profile import shipped_profiles
from gateway.cli import main
from simulators.modbus_server import Fault, ModbusSimServer
from streetwatch import topics
from streetwatch.config import DatabaseUrl
from streetwatch.mqtt import MqttTransport, TlsFiles
from streetwatch.readings import Reading
from telemetry_store import open_store

LAMP = shipped_profiles()["sw-lamp-controller"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    monkeypatch.setenv("STREETWATCH_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


async def cli(*args: str) -> int:
    # The CLI runs its own event loop; the servers run on the test's.
    return await asyncio.to_thread(main, list(args))


def healthy_lamp(server: ModbusSimServer, unit: int) -> None:
    for metric, value in {"supply_voltage_v": 229.8, "dim_level_pct": 80, "power_w": 64.5, "relay_on": 1,
                          "lamp_current_a": 0.31, "power_factor": 0.95, "controller_temp_c": 31.5,
                          "energy_kwh": 1234.56, "lamp_running_hours": 8012, "fault_bits": 0,
                          "clock_epoch_s": 1_790_000_000}.items():
        server.set_value(unit, metric, value)


async def add_lamp(port: int, unit: int = 1, device_id: str = "LP-BY-000123") -> None:
    code = await cli("device", "add", device_id, "--kind", "lamp_controller", "--profile", "sw-lamp-controller",
                     "--transport", "modbus-tcp", "--address", f"127.0.0.1:{port}", "--unit", str(unit),
                     "--lat", "23.1291", "--lon", "113.2644", "--site", "Baiyun")
    assert code == 0


async def test_probe_reads_every_metric_and_commissions(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    server = ModbusSimServer({1: LAMP})
    healthy_lamp(server, 1)
    server.set_value(1, "fault_bits", 0b10001)
    async with server:
        await add_lamp(server.port)
        capsys.readouterr()
        assert await cli("device", "probe", "LP-BY-000123", "--commission", "--by", "installer-wang") == 0
    out = capsys.readouterr().out
    assert "supply_voltage_v" in out and "229.8" in out and " V " in out
    assert "power_w" in out and "64.5" in out
    assert "lamp_failure,door_open" in out
    assert "IMPLAUSIBLE" not in out
    assert "status is commissioned" in out
    async with open_registry(env) as registry:
        device = await registry.require("LP-BY-000123")
        history = await registry.history("LP-BY-000123")
    assert device.status.value == "commissioned"
    assert history[-1].by == "installer-wang"


async def test_implausible_value_is_flagged_and_not_commissioned(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ModbusSimServer({3: LAMP})
    healthy_lamp(server, 3)
    server.set_value(3, "supply_voltage_v", 121.0)  # a 230 V lamp reading 121 V: wiring or transformer
    async with server:
        await add_lamp(server.port, unit=3)
        capsys.readouterr()
        assert await cli("device", "probe", "LP-BY-000123", "--commission") == 1
    captured = capsys.readouterr()
    assert "IMPLAUSIBLE" in captured.out and "180..260" in captured.out
    assert captured.err.strip().endswith("1 implausible value(s), 0 metric(s) without a value; not commissioned")
    async with open_registry(env) as registry:
        assert (await registry.require("LP-BY-000123")).status.value == "registered"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault("no_answer"), "no answer from unit 1 at 127.0.0.1:"),
        (Fault("exception", code=2), "refused the request: Modbus exception 2, illegal data address"),
    ],
)
async def test_failures_are_plain_words(env: str, capsys: pytest.CaptureFixture[str], fault: Fault,
                                        expected: str) -> None:
    server = ModbusSimServer({1: LAMP})
    healthy_lamp(server, 1)
    server.set_fault(1, fault)
    async with server:
        await add_lamp(server.port)
        capsys.readouterr()
        assert await cli("device", "probe", "LP-BY-000123", "--timeout", "0.5") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert expected in err[0]


async def test_connection_refused(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    await add_lamp(free_port())
    capsys.readouterr()
    assert await cli("device", "probe", "LP-BY-000123", "--timeout", "1") == 1
    assert "cannot connect to unit 1 at 127.0.0.1:" in capsys.readouterr().err


@pytest.mark.services
@pytest.mark.parametrize("broker", ["mosquitto_server", "mosquitto_tls"])
async def test_probe_hears_an_mqtt_gauge(env: str, capsys: pytest.CaptureFixture[str], broker: str,
                                         request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    server: MosquittoServer = request.getfixturevalue(broker)
    monkeypatch.setenv("STREETWATCH_MQTT_URL", server.url)
    tls = TlsFiles(ca_file=server.tls.ca_file) if server.tls is not None else None
    if tls is not None:  # mqtts://: the probe must use the configured CA, as every client does
        monkeypatch.setenv("STREETWATCH_MQTT__CA_FILE", str(tls.ca_file))
    assert await cli("device", "add", "CG-BY-0001", "--kind", "culvert_gauge", "--profile", "sw-culvert-gauge-mqtt",
                     "--transport", "mqtt", "--lat", "23.2", "--lon", "113.3") == 0
    capsys.readouterr()
    probing = asyncio.create_task(cli("device", "probe", "CG-BY-0001", "--timeout", "10"))
    async with MqttTransport.from_url(server.url, tls).client("gauge-CG-BY-0001") as device:
        await device.publish(topics.status("CG-BY-0001"), b"online", qos=1, retain=True)
        for _ in range(100):  # until the probe has subscribed and heard it
            await device.publish(topics.telemetry("CG-BY-0001"),
                                 json.dumps({"water_level_mm": 412, "battery_v": 3.71, "signal_quality_pct": 88}),
                                 qos=1)
            if probing.done():
                break
            await asyncio.sleep(0.1)
        assert await probing == 0
    out = capsys.readouterr().out
    assert "water_level_mm" in out and "412" in out and "mm" in out
    assert "battery_v" in out and "3.71" in out


async def test_readings_by_site_and_device_show_use_both_packages(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for device_id, site in (("LP-A", "Baiyun"), ("LP-B", "Tianhe")):
        assert await cli("device", "add", device_id, "--kind", "lamp_controller", "--profile",
                         "sw-lamp-controller", "--transport", "modbus-tcp", "--address", "10.0.0.1",
                         "--unit", "1" if device_id == "LP-A" else "2", "--lat", "23.1", "--lon", "113.2",
                         "--site", site) == 0
    ts = datetime.now(UTC) - timedelta(minutes=1)
    async with open_store(DatabaseUrl.parse(env)) as store:
        await store.write([Reading("LP-A", "power_w", ts, 61.0), Reading("LP-B", "power_w", ts, 17.0)])
    capsys.readouterr()
    assert await cli("readings", "latest", "--site", "Baiyun", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["device"], r["value"], r["unit"]) for r in rows] == [("LP-A", 61.0, "W")]
    assert await cli("device", "show", "LP-A") == 0
    shown = capsys.readouterr().out
    assert "61" in shown
    assert "unknown" not in shown.lower().split("last seen")[-1].splitlines()[0]


@pytest.mark.parametrize("output", ["json", "csv"])
async def test_probe_output_carries_numbers_at_full_precision(env: str, capsys: pytest.CaptureFixture[str],
                                                              output: str) -> None:
    server = ModbusSimServer({1: LAMP})
    healthy_lamp(server, 1)
    server.set_value(1, "clock_epoch_s", 1_767_225_600)
    server.set_value(1, "energy_kwh", 1_234_567.89)
    server.set_value(1, "lamp_current_a", 0.412)
    async with server:
        await add_lamp(server.port)
        capsys.readouterr()
        assert await cli("device", "probe", "LP-BY-000123", "--format", output) == 0
    out = capsys.readouterr().out
    if output == "json":
        values = {row["metric"]: row["value"] for row in json.loads(out)}
    else:
        import csv
        values = {row["metric"]: row["value"] for row in csv.DictReader(out.splitlines())}
    expected: dict[str, object] = {"clock_epoch_s": 1767225600, "energy_kwh": 1234567.89, "lamp_current_a": 0.412,
                                   "lamp_running_hours": 8012, "supply_voltage_v": 229.8, "power_factor": 0.95}
    if output == "csv":
        expected = {k: str(v) for k, v in expected.items()}
    assert {k: values[k] for k in expected} == expected
    assert "e+" not in out and "0000000" not in out.replace("1767225600", "")
