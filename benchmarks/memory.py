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
import contextlib
import csv
import io
import os
import signal
import sqlite3
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


def fleet_csv(devices: int, poll_interval_s: float | None = None) -> tuple[str, list[str]]:
    """The CSV to import, and the ids of the MQTT gauges (``poll_interval_s``: every Modbus device's,
    instead of 60 s for the lamps and 300 s for the probes)."""
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
                       unit=str(unit + 1), poll_interval_s=f"{poll_interval_s or 60:g}")
        elif share == 7:
            row.update(id=f"WQ-{n:06d}", kind="water_quality_probe", profile="sw-water-quality-probe",
                       transport="modbus-rtu-over-tcp", host="127.0.0.1", port=str(FIRST_PORT + converter),
                       unit=str(unit + 1), poll_interval_s=f"{poll_interval_s or 300:g}")
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
    code = ("import gateway.composition.runtime, gateway.cli.run; "
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def run(*, devices: int, seconds: float, mqtt_url: str | None, offline_after_failures: int | None = None,
        poll_interval_s: float | None = None) -> None:
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
            text, gauges = fleet_csv(devices, poll_interval_s)
            started = time.perf_counter()
            asyncio.run(_register(url, text))
            print(f"{devices:,} devices registered in {time.perf_counter() - started:.0f} s: "
                  f"{devices - len(gauges):,} Modbus (RTU over TCP, {UNITS_PER_CONVERTER} per converter, nothing "
                  f"listening), {len(gauges):,} MQTT gauges; bare interpreter with the gateway imported: "
                  f"{_baseline_mb():.0f} MB", flush=True)
            if offline_after_failures is not None or poll_interval_s is not None:
                print(f"shortened: Modbus devices polled every {poll_interval_s or 60:g} s"
                      f"{'' if poll_interval_s else ' (probes 300 s)'}, offline after "
                      f"{offline_after_failures or 3} failed poll(s) (defaults: lamps 60 s, probes 300 s, 3 polls)",
                      flush=True)
            _measure(url, data_dir, mqtt_url, gauges, seconds, offline_after_failures)
    finally:
        if broker is not None:
            broker.close()


def _measure(url: str, data_dir: str, mqtt_url: str, gauges: list[str], seconds: float,
             offline_after_failures: int | None) -> None:
    api_port = free_port()
    env = {**os.environ, "STREETWATCH_DATABASE_URL": url, "STREETWATCH_MQTT_URL": mqtt_url,
           "STREETWATCH_DATA_DIR": data_dir, "STREETWATCH_MQTT__CLIENT_ID": f"bench-mem-{uuid.uuid4().hex[:6]}",
           "STREETWATCH_GATEWAY__METRICS_PORT": "0", "STREETWATCH_GATEWAY__API_PORT": str(api_port),
           "STREETWATCH_LOG_LEVEL": "ERROR"}
    if offline_after_failures is not None:
        env["STREETWATCH_GATEWAY__OFFLINE_AFTER_FAILURES"] = str(offline_after_failures)
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
        print(f"at the end: {_state_at_end(url)}", flush=True)
        print(f"gateway RSS at the end {current:.0f} MB, peak {peak:.0f} MB, steady (last minute) "
              f"max {max(samples[-12:]):.0f} MB")
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()


def _state_at_end(url: str) -> str:
    """How many devices the gateway has recorded offline and how many alerts it has stored: whether the run
    reached the steady state (every Modbus device offline, its alert stored)."""
    path = url.removeprefix("sqlite:///")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
            offline = db.execute("SELECT count(*) FROM gateway_device_state WHERE NOT online").fetchone()[0]
            alerts = db.execute("SELECT count(*) FROM alerts WHERE state = 'raised'").fetchone()[0]
    except sqlite3.Error as exc:
        return f"devices offline and alerts not counted ({exc})"
    return f"{offline:,} devices recorded offline, {alerts:,} alerts raised and stored"
