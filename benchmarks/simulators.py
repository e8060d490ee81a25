"""How fast the simulated devices answer and publish, each against a same-run baseline.

    streetwatch bench simulators [--lamps 2000] [--gauges 2000] [--seconds 8] [--mqtt-url mqtt://…]

1. **models**: the cost of one sample of each model (pure CPU, this process).
2. **modbus**: ``streetwatch simulate --lamps N`` in its own process, polled for ``--seconds`` by
   this process through the Modbus driver (one bus per port, as the gateway does: one request at
   a time per port). Baseline: the bare profile-driven server with fixed values, same ports and
   units, same poller.
3. **mqtt**: ``streetwatch simulate --gauges N`` publishing to a broker (``--mqtt-url``; from a
   checkout, a throwaway Mosquitto of the test harness), counted from the simulator's own status
   lines (PUBACKed messages), with a subscriber checking every device is heard; shared clients,
   then one client (and last will) per device. Baseline: as many aiomqtt clients publishing
   ready-made payloads as fast as their PUBACKs come back.

Each simulator runs in a child process, so the figures are what one simulator process (one core)
gives; to drive more, run several with different ``--id-prefix`` and ``--base-port``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from device_drivers.modbus import BusSettings, Endpoint, ModbusBus, read_device
from device_registry.profile import shipped_profiles
from simulators.devices import SimGauge, SimLamp, SimProbe
from simulators.faults import Target
from simulators.plan import plan_fleet
from simulators.scenario import Scenario
from streetwatch.mqtt import MqttTransport

LAMP = shipped_profiles()["sw-lamp-controller"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# --- 1. models -----------------------------------------------------------------------------------------
def bench_models() -> None:
    origin = datetime(2026, 7, 1, 12, tzinfo=UTC)
    scenario = Scenario.demo()
    plan = plan_fleet(scenario)
    lamp = SimLamp(plan.of(Target.lamp)[0], scenario, origin)
    gauge = SimGauge(plan.of(Target.gauge)[0], scenario, origin, reference=True)
    probe = SimProbe(plan.of(Target.probe)[0], scenario, origin)
    n = 20_000

    def timed(label: str, call: Callable[[datetime], object]) -> None:
        start = time.perf_counter()
        for i in range(n):
            call(origin + timedelta(seconds=i))
        per = (time.perf_counter() - start) / n * 1e6
        print(f"  {label:<44} {per:8.1f} µs/sample  ({1e6 / per:,.0f}/s)")

    print("models (one sample per simulated second, 20,000 samples):")
    rng = random.Random(1)
    timed("baseline: datetime + 12 random.gauss", lambda _: [rng.gauss(0, 1) for _ in range(12)])
    timed("lamp controller: read all 12 registers", lamp.registers)
    timed("culvert gauge (demo storm): MQTT telemetry", gauge.telemetry)
    timed("water-quality probe: six metrics", probe.telemetry)


# --- 2. modbus ------------------------------------------------------------------------------------------
def serve_static(lamps: int, units_per_port: int, port_file: Path) -> None:
    """Child: the bare profile-driven server with fixed values (the baseline)."""
    from simulators.modbus_server import ModbusSimServer

    async def go() -> None:
        servers = []
        for first in range(0, lamps, units_per_port):
            units = dict.fromkeys(range(1, min(units_per_port, lamps - first) + 1), LAMP)
            server = ModbusSimServer(units)
            for unit in units:
                for metric, value in (("dim_level_pct", 60), ("supply_voltage_v", 230), ("power_w", 91.2),
                                      ("energy_kwh", 1234.5), ("power_factor", 0.93), ("relay_on", 1)):
                    server.set_value(unit, metric, value)
            servers.append(server)
        async with contextlib.AsyncExitStack() as stack:
            for server in servers:
                await stack.enter_async_context(server)
            ports = json.dumps([s.port for s in servers])
            await asyncio.to_thread(port_file.write_text, ports)
            await asyncio.Event().wait()

    asyncio.run(go())


async def poll(targets: dict[int, list[int]], seconds: float) -> tuple[int, int, list[float]]:
    """Poll every lamp over and over, one bus per port; (polls, readings, latencies in ms)."""
    polls = readings = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def one_port(port: int, units: list[int]) -> None:
        nonlocal polls, readings
        async with ModbusBus(Endpoint("tcp", host="127.0.0.1", port=port), BusSettings(timeout_s=3.0)) as bus:
            while time.monotonic() < deadline:
                for unit in units:
                    start = time.perf_counter()
                    sample = await read_device(bus, unit, LAMP)
                    latencies.append((time.perf_counter() - start) * 1000)
                    polls += 1
                    readings += len(sample.values)
                    if time.monotonic() >= deadline:
                        return

    await asyncio.gather(*(one_port(port, units) for port, units in targets.items()))
    return polls, readings, latencies


def wait_for(path: Path, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() or path.stat().st_size == 0:
        if process.poll() is not None or time.monotonic() > deadline:
            err = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"the simulator did not start: {err}")
        time.sleep(0.1)
    time.sleep(0.5)  # the CSV is written just before the fleet runs


def bench_modbus(lamps: int, seconds: float, tmp: Path) -> None:
    print(f"modbus ({lamps} lamps, 200 unit ids per port, polled for {seconds:g} s per server):")
    runs: list[tuple[str, list[str], Path]] = [
        ("baseline: bare server, fixed values",
         [sys.executable, "-m", "benchmarks.simulators", "--serve-static", str(lamps),
          "--port-file", str(tmp / "ports.json")],
         tmp / "ports.json"),
        ("streetwatch simulate (live lamp models)",
         [sys.executable, "-m", "gateway", "simulate", "--lamps", str(lamps), "--csv", str(tmp / "lamps.csv"),
          "--status-every", "0", "--duration", "10m"], tmp / "lamps.csv"),
    ]
    for label, command, ready in runs:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(ready, process)
            startup = time.monotonic() - started
            if ready.suffix == ".json":
                ports = json.loads(ready.read_text())
                targets = {port: list(range(1, min(200, lamps - 200 * i) + 1)) for i, port in enumerate(ports)}
            else:
                targets = {}
                with ready.open(newline="") as fh:
                    for row in csv.DictReader(fh):
                        targets.setdefault(int(row["port"]), []).append(int(row["unit"]))
            cpu_before = cpu_s(process.pid)
            polls, readings, latencies = asyncio.run(poll(targets, seconds))
            cpu_used = cpu_s(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
        print(f"  {label:<40} start {startup:5.1f} s  {polls / seconds:7,.0f} polls/s  "
              f"{3 * polls / seconds:7,.0f} requests/s  {readings / seconds:8,.0f} readings/s  "
              f"p50 {statistics.median(latencies):5.1f} ms  p99 {p99:5.1f} ms  "
              f"server CPU {cpu_used / seconds * 100:3.0f} % = {cpu_used / polls * 1e6:4.0f} µs/poll "
              f"(≈ {polls / cpu_used:,.0f} polls/s per core)")


# --- 3. mqtt --------------------------------------------------------------------------------------------
async def count_messages(broker: MqttTransport, seconds: float, settle_s: float) -> tuple[int, int]:
    """(telemetry messages, distinct devices) one QoS 0 subscriber receives in a window of ``seconds`` that opens
    ``settle_s`` after subscribing (what arrives before is read and dropped)."""
    seen: set[str] = set()
    count = 0
    loop = asyncio.get_running_loop()
    async with broker.client(max_queued_incoming_messages=0) as client:
        await client.subscribe("streetwatch/devices/+/telemetry", qos=0)
        opens = loop.time() + settle_s
        closes = opens + seconds

        async def take() -> None:
            nonlocal count
            async for message in client.messages:
                now = loop.time()
                if now >= closes:
                    return
                if now >= opens:
                    count += 1
                    seen.add(message.topic.value)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(take(), timeout=settle_s + seconds + 1)
    return count, len(seen)


async def raw_publisher(broker: MqttTransport, seconds: float, clients: int) -> float:
    """Ready-made gauge payloads, 250 in flight per client, as fast as the PUBACKs return."""
    payload = json.dumps({"ts": 1, "water_level_mm": 412.0, "battery_v": 3.91, "signal_quality_pct": 77.0}).encode()
    sent = 0
    deadline = time.monotonic() + seconds

    async def one(k: int) -> None:
        nonlocal sent
        async with broker.client(f"bench-raw-{k}", max_inflight_messages=100) as client:
            client.pending_calls_threshold = 10_000
            while time.monotonic() < deadline:
                await asyncio.gather(*(client.publish(f"streetwatch/devices/RAW-{k}-{i}/telemetry", payload, qos=1)
                                       for i in range(250)))
                sent += 250

    await asyncio.gather(*(one(k) for k in range(clients)))
    return sent / seconds


async def run_gauges(url: str, n: int, interval: float, extra: list[str],
                     seconds: float) -> tuple[float, int, float]:
    """(PUBACKed messages/s from the simulator's status lines, devices heard, simulator CPU %)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "simulate", "--gauges", str(n), "--mqtt-url", url,
        "--gauge-interval", f"{interval}s", "--status-every", "1s", "--duration", "10m", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert process.stdout is not None
    marks: list[tuple[float, int]] = []  # (monotonic, published so far)
    settle_s = 2.0
    up = asyncio.Event()

    async def read_status() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            found = re.search(rb"MQTT (\d+) published", line)
            if found:
                marks.append((time.monotonic(), int(found.group(1))))
                up.set()

    reader = asyncio.create_task(read_status())
    try:
        await asyncio.wait_for(up.wait(), timeout=120)  # the first status line: the fleet is up
        cpu_before, started = cpu_s(process.pid), time.monotonic()
        _, heard = await count_messages(MqttTransport.from_url(url), seconds, settle_s)
        cpu = (cpu_s(process.pid) - cpu_before) / (time.monotonic() - started) * 100
    finally:
        process.terminate()
        await process.wait()
        reader.cancel()
    window = [m for m in marks if m[0] >= started + settle_s]
    (t0, n0), (t1, n1) = window[0], window[-1]
    return (n1 - n0) / (t1 - t0), heard, cpu


def bench_mqtt(gauges: int, seconds: float, url: str | None) -> None:
    with contextlib.ExitStack() as stack:
        if url is None:
            from benchmarks.servers import MosquittoServer  # a throwaway broker, never the machine's own

            server = MosquittoServer()
            server.start()
            stack.callback(server.close)
            url = server.url
        broker = MqttTransport.from_url(url)
        clients = -(-gauges // 250)
        print(f"mqtt (QoS 1 to {broker.where}, counted for {seconds:g} s):")
        rate = asyncio.run(raw_publisher(broker, seconds, clients))
        print(f"  {f'baseline: {clients} aiomqtt clients, ready payloads':<54} {rate:8,.0f} msg/s")
        for label, extra, n, interval in (
            (f"{gauges} gauges every 0.5 s, 250 per shared client", [], gauges, 0.5),
            (f"{gauges} gauges every 0.2 s, 250 per shared client", [], gauges, 0.2),
            (f"{gauges // 4} gauges every 0.5 s, a client + will each", ["--per-device-clients"], gauges // 4, 0.5),
        ):
            published, heard, cpu = asyncio.run(run_gauges(url, n, interval, extra, seconds))
            print(f"  {label:<54} {published:8,.0f} msg/s of {n / interval:,.0f} due  "
                  f"({heard} devices heard by a subscriber, simulator CPU {cpu:3.0f} %)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streetwatch bench simulators", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lamps", type=int, default=2000)
    parser.add_argument("--gauges", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--only", choices=["models", "modbus", "mqtt"])
    parser.add_argument("--mqtt-url", help="broker for the MQTT part (default: a throwaway Mosquitto)")
    parser.add_argument("--serve-static", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_static:
        serve_static(args.serve_static, 200, args.port_file)
        return
    print(f"streetwatch simulators benchmark — {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        if args.only in (None, "models"):
            bench_models()
        if args.only in (None, "modbus"):
            bench_modbus(args.lamps, args.seconds, Path(tmp))
        if args.only in (None, "mqtt"):
            bench_mqtt(args.gauges, args.seconds, args.mqtt_url)


if __name__ == "__main__":
    main()
