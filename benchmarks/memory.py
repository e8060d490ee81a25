"""Benchmark: the memory of ``streetwatch run`` serving many registered devices.

    streetwatch bench memory --devices 100000 --seconds 90

Registers a fleet in a fresh SQLite file (70 % lamp controllers and 10 % water-quality probes
behind Modbus RTU-over-TCP converters, 30 units each; 20 % culvert gauges over MQTT), starts the
gateway as its own process, has every gauge publish once, and prints the gateway's resident memory
(RSS) every few seconds and its peak. The converters' addresses are on 127.0.0.1 ports where nothing
listens: every Modbus device is polled, fails, goes offline and is retried with backoff — the
gateway holds state for each. The same run prints a baseline: the memory of a bare Python process
that has imported the gateway.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from benchmarks.publisher import publish
from benchmarks.servers import free_port
from benchmarks.system import rss_mb, test_servers
from device_drivers.mqtt import encode_telemetry
from device_registry import open_registry, read_csv
from device_registry.flat import COLUMNS
from streetwatch import topics
from streetwatch.mqtt import BrokerUrl

UNITS_PER_CONVERTER = 30
FIRST_PORT = 61_000


def fleet_csv(devices: int) -> tuple[str, list[str]]:
    """The CSV to import, and the ids of the MQTT gauges."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c for c in COLUMNS if c != "password"], lineterminator="\n")
    writer.writeheader()
    gauges = []
    for n in range(devices):
        share = n % 10
        row = dict.fromkeys(writer.fieldnames, "")
        row.update(lat=f"{23.0 + (n % 1000) / 5000:.6f}", lon=f"{113.2 + (n // 1000) / 5000:.6f}",
                   site=("Baiyun", "Tianhe", "Liwan", "Haizhu")[n % 4], groups=f"street-{n % 400}",
                   tags=f"batch={n // 500}")
        converter, unit = divmod(n, UNITS_PER_CONVERTER)
        if share < 7:
            row.update(id=f"LP-{n:06d}", kind="lamp_controller", profile="sw-lamp-controller",
                       transport="modbus-rtu-over-tcp", host="127.0.0.1", port=str(FIRST_PORT + converter),
                       unit=str(unit + 1), poll_interval_s="60")
        elif share == 7:
            row.update(id=f"WQ-{n:06d}", kind="water_quality_probe", profile="sw-water-quality-probe",
                       transport="modbus-rtu-over-tcp", host="127.0.0.1", port=str(FIRST_PORT + converter),
                       unit=str(unit + 1), poll_interval_s="300")
        else:
            row.update(id=f"CG-{n:06d}", kind="culvert_gauge", profile="sw-culvert-gauge-mqtt", transport="mqtt",
                       thresholds="water_level_mm.orange=500;water_level_mm.red=800")
            gauges.append(row["id"])
        writer.writerow(row)
    return out.getvalue(), gauges


async def _register(url: str, text: str) -> None:
    async with open_registry(url) as registry:
        await registry.import_devices(read_csv(text), by="bench")


def _healthy(api_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _baseline_mb() -> float:
    # VmRSS, not ru_maxrss: Linux keeps the maximum across exec, so it would show this process's.
    code = ("import gateway.composition.runtime, gateway.cli; "
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def run(*, devices: int, seconds: float, mqtt_url: str | None) -> None:
    _, mosquitto_server = test_servers() if mqtt_url is None else (None, None)
    broker = None
    if mqtt_url is None:
        assert mosquitto_server is not None
        broker = mosquitto_server()
        broker.start()
        mqtt_url = broker.url
    try:
        with tempfile.TemporaryDirectory(prefix="streetwatch-bench-") as data_dir:
            url = f"sqlite:///{Path(data_dir) / 'streetwatch.db'}"
            text, gauges = fleet_csv(devices)
            started = time.perf_counter()
            asyncio.run(_register(url, text))
            print(f"{devices:,} devices registered in {time.perf_counter() - started:.0f} s: "
                  f"{devices - len(gauges):,} Modbus (RTU over TCP, {UNITS_PER_CONVERTER} per converter, nothing "
                  f"listening), {len(gauges):,} MQTT gauges; bare interpreter with the gateway imported: "
                  f"{_baseline_mb():.0f} MB", flush=True)
            _measure(url, data_dir, mqtt_url, gauges, seconds)
    finally:
        if broker is not None:
            broker.close()


def _measure(url: str, data_dir: str, mqtt_url: str, gauges: list[str], seconds: float) -> None:
    api_port = free_port()
    env = {**os.environ, "STREETWATCH_DATABASE_URL": url, "STREETWATCH_MQTT_URL": mqtt_url,
           "STREETWATCH_DATA_DIR": data_dir, "STREETWATCH_MQTT__CLIENT_ID": f"bench-mem-{uuid.uuid4().hex[:6]}",
           "STREETWATCH_GATEWAY__METRICS_PORT": "0", "STREETWATCH_GATEWAY__API_PORT": str(api_port),
           "STREETWATCH_LOG_LEVEL": "ERROR"}
    started = time.perf_counter()
    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "run"], env=env, stderr=subprocess.DEVNULL)
    try:
        while not _healthy(api_port):
            if gateway.poll() is not None or time.perf_counter() - started > 300:
                raise SystemExit("the gateway did not start")
            time.sleep(0.5)
        ready_s = time.perf_counter() - started
        print(f"serving after {ready_s:.1f} s: RSS {rss_mb(gateway.pid)[0]:.0f} MB", flush=True)
        broker = BrokerUrl.parse(mqtt_url)
        host, port = broker.host, broker.port
        now = time.time()
        messages = [(topics.telemetry(g), encode_telemetry({"water_level_mm": 400.0, "battery_v": 3.7}, None))
                    for g in gauges]
        asyncio.run(publish(host, int(port), "bench-mem-pub", messages))
        print(f"every gauge published once ({len(messages):,} messages in {time.time() - now:.1f} s)", flush=True)
        samples = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            time.sleep(5)
            current, peak = rss_mb(gateway.pid)
            samples.append(current)
            print(f"  t={time.perf_counter() - started:5.0f} s  RSS {current:6.0f} MB  (peak so far {peak:.0f} MB)",
                  flush=True)
        current, peak = rss_mb(gateway.pid)
        print(f"gateway RSS at the end {current:.0f} MB, peak {peak:.0f} MB, steady (last minute) "
              f"max {max(samples[-12:]):.0f} MB")
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()
