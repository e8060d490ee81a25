"""Benchmark: the gateway's Modbus poller — polls/s and poll latency for many simulated Modbus TCP devices.

    streetwatch bench modbus --devices 1000 --seconds 20

The devices are the drivers' benchmark devices (``benchmarks.modbus_drivers``: a 10-register
block each, served from a child process, one TCP port per device). They are registered with a
poll interval short enough that the poller runs flat out, and ``streetwatch run``'s runtime polls
them (scheduler, bus workers, ``poll_concurrency`` requests at once, journal, store path into a
SQLite store) for ``--seconds`` after a warm-up. Printed: polls/s, p50/p99 latency, errors, CPU per
poll; then, on the same devices, the drivers' own closed-loop figures (a bare pymodbus client and
``read_device``) as the same-run baseline.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import modbus_drivers as drivers_bench
from device_registry import Device, open_registry
from gateway.composition.logs import configure_logging
from gateway.composition.runtime import Gateway, RunOptions, running
from streetwatch.config import Settings


async def _register(url: str, ports: list[int], interval_s: float) -> None:
    profile = drivers_bench.bench_profile()
    async with open_registry(url) as registry:
        await registry.add_profile(yaml.safe_dump(profile.model_dump(mode="json", exclude_defaults=True)), "yaml",
                                   source="bench", by="bench")
        for i, port in enumerate(ports):
            await registry.add(Device.model_validate({
                "id": f"BM-{i:05d}", "kind": "lamp_controller", "profile": profile.name, "poll_interval_s": interval_s,
                "address": {"transport": "modbus-tcp", "host": "127.0.0.1", "port": port, "unit": 1},
                "location": {"latitude": 23.1, "longitude": 113.2}, "status": "active"}), by="bench")


async def _measure(ports: list[int], *, seconds: float, warmup_s: float, interval_s: float, concurrency: int,
                   data_dir: Path) -> None:
    url = f"sqlite:///{data_dir / 'bench.db'}"
    await _register(url, ports, interval_s)
    settings = Settings(data_dir=data_dir, database_url=url,
                        gateway={"metrics_port": None, "api_port": None, "poll_concurrency": concurrency,
                                 "poll_timeout_s": 3.0})
    latencies: list[float] = []
    recording = False

    def observe(latency_s: float) -> None:
        if recording:
            latencies.append(latency_s)

    async with running(Gateway(settings, options=RunOptions(mqtt=False, maintenance=False))) as gateway:
        poller = gateway.poller
        assert poller is not None
        poller.observe_latency = observe
        await asyncio.sleep(warmup_s)  # connections made, every device polled at least once
        polls, failures = poller.stats.polls, sum(poller.stats.failures.values())
        cpu, started = time.process_time(), time.perf_counter()
        recording = True
        await asyncio.sleep(seconds)
        recording = False
        elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        polls, failures = poller.stats.polls - polls, sum(poller.stats.failures.values()) - failures
        stored = gateway.pipeline.stored_readings if gateway.pipeline is not None else 0
    lat = sorted(latencies) or [0.0]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"gateway poller         {polls / elapsed:>7,.0f} polls/s  p50 {statistics.median(lat) * 1000:6.2f} ms  "
          f"p99 {p99 * 1000:6.2f} ms  gateway CPU {cpu_s / max(polls, 1) * 1e6:4.0f} µs/poll  ({polls:,} polls, "
          f"{failures} failed; demand {len(ports) / interval_s:,.0f} polls/s; {stored:,} readings stored in all)",
          flush=True)


def run(*, devices: int, seconds: float, concurrency: int, interval_s: float, baseline_s: float) -> None:
    configure_logging("WARNING")
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        # The drivers' benchmark's own device server and loop, reused as they are for a same-run baseline.
        target=drivers_bench._serve, args=("tcp", devices, 1, child), name="bench-modbus-devices")  # noqa: SLF001
    server.start()
    try:
        ports: list[int] = parent.recv()
        print(f"{devices:,} Modbus TCP devices (one port each, 10-register blocks, servers in a child process), "
              f"poll interval {interval_s:g} s, {concurrency} requests at once, measured for {seconds:g} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="streetwatch-bench-") as data_dir:
            asyncio.run(_measure(ports, seconds=seconds, warmup_s=max(3.0, 2 * interval_s), interval_s=interval_s,
                                 concurrency=concurrency, data_dir=Path(data_dir)))
        if baseline_s > 0:
            print("same devices, the drivers' closed-loop benchmark (streetwatch bench modbus-drivers):",
                  flush=True)
            baseline = drivers_bench._bench  # noqa: SLF001 - see _serve above
            asyncio.run(baseline(ports, "tcp", 1, seconds=baseline_s, concurrency=concurrency, rounds=2))
    finally:
        parent.send("stop")
        server.join(timeout=30)
        if server.is_alive():
            server.terminate()
