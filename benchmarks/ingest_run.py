"""One end-to-end run of the ingest benchmark: ``streetwatch run`` as its own process, publisher processes
sending a fleet's telemetry at QoS 1 (over TLS when given a CA), the stored count read from the gateway's
metrics until every reading is in the store, and the readings counted in the database afterwards."""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.publisher import publish
from benchmarks.servers import free_port
from benchmarks.system import ProcessCpu
from streetwatch import topics
from streetwatch.mqtt import BrokerUrl
from streetwatch.readings import Reading

LAMP_METRICS = ("power_w", "supply_voltage_v", "lamp_current_a", "dim_level_pct", "power_factor", "energy_kwh",
                "controller_temp_c", "relay_on", "fault_bits", "lamp_running_hours")
GAUGE_METRICS = ("water_level_mm", "battery_v", "signal_quality_pct")
LAMP_PROFILE = "\n".join(['name = "bench-lamp-mqtt"', 'kind = "lamp_controller"', 'transport = "mqtt"']
                         + [f'[[mqtt.metrics]]\nname = "{m}"' for m in LAMP_METRICS])


@dataclass(frozen=True)
class Fleet:
    lamps: int
    gauges: int
    start: datetime

    def devices(self) -> list[tuple[str, tuple[str, ...]]]:
        return ([(f"LPM-{i:06d}", LAMP_METRICS) for i in range(self.lamps)]
                + [(f"CGM-{i:06d}", GAUGE_METRICS) for i in range(self.gauges)])

    @property
    def readings_per_round(self) -> int:
        return self.lamps * len(LAMP_METRICS) + self.gauges * len(GAUGE_METRICS)

    def values(self, device_index: int, message: int, metrics: tuple[str, ...]) -> dict[str, float]:
        return {m: round(100 + ((device_index * 7 + message * 13 + k * 31) % 9973) / 10, 1)
                for k, m in enumerate(metrics)}

    def ts(self, device_index: int, message: int) -> datetime:
        # Each device reports once a (simulated) second; devices spread over the second.
        return self.start + timedelta(seconds=message, microseconds=device_index * 997 % 1_000_000)

    def messages(self, rounds: int, part: int, parts: int) -> list[tuple[str, bytes]]:
        """Every ``parts``-th device from ``part``, ``rounds`` messages each, round by round."""
        devices = self.devices()[part::parts]
        indices = range(part, len(self.devices()), parts)
        out = []
        for message in range(rounds):
            for index, (device_id, metrics) in zip(indices, devices, strict=True):
                body = {"ts": self.ts(index, message).isoformat().replace("+00:00", "Z"),
                        **self.values(index, message, metrics)}
                out.append((topics.telemetry(device_id), json.dumps(body, separators=(",", ":")).encode()))
        return out

    def readings(self, rounds: int, limit: int) -> list[Reading]:
        out: list[Reading] = []
        for message in range(rounds):
            for index, (device_id, metrics) in enumerate(self.devices()):
                ts = self.ts(index, message)
                out += [Reading(device_id, m, ts, v) for m, v in self.values(index, message, metrics).items()]
                if len(out) >= limit:
                    return out[:limit]
        return out


@dataclass(frozen=True)
class PublisherJob:
    host: str
    port: int
    fleet: Fleet
    rounds: int
    part: int
    parts: int
    rate_msg_s: float
    ca_file: str | None = None  # TLS with this CA


def _publisher(job: PublisherJob, ready: EventType, go: EventType, results: Any) -> None:
    """A publisher process: encode its share first, then publish it when told to go."""
    messages = job.fleet.messages(job.rounds, job.part, job.parts)
    ready.set()
    go.wait()
    cpu_at_go = time.process_time()
    result = asyncio.run(publish(job.host, job.port, f"bench-pub-{job.part}-{uuid.uuid4().hex[:6]}", messages,
                                 rate_msg_s=job.rate_msg_s, ca_file=job.ca_file))
    results.put((result.acknowledged, time.process_time() - cpu_at_go))


def _metrics(metrics_url: str) -> dict[str, float]:
    """The gateway's unlabelled metrics, by name."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    return {name: float(value) for name, value in
            (line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#") and "{" not in line)}


def _stored(metrics_url: str) -> float | None:
    """Readings stored so far; None when the gateway did not answer in time (a busy machine): no sample then."""
    try:
        return _metrics(metrics_url).get("streetwatch_readings_stored_total", 0.0)
    except OSError:
        return None


def count_readings(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (device_key, metric_key, ts)) FROM readings").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


@dataclass(frozen=True)
class Measured:
    """One end-to-end run: readings/s from the first publish until every reading is stored."""

    rate: float
    expected: int
    distinct: int
    acknowledged: int
    cpu_s: dict[str, float]
    complete: bool = True  # every reading was stored before the time limit (else the rate is a lower bound)

    @property
    def lost(self) -> int:
        return self.expected - self.distinct


def measure(db_url: str, broker_url: str, fleet: Fleet, rounds: int, publishers: int, seconds: float,
            server_pids: dict[str, list[int]], ca_file: str | None = None, label: str = "gateway, end to end"
            ) -> Measured:
    """Run ``streetwatch run`` on ``db_url`` (devices registered) and publish ``rounds`` of ``fleet``'s telemetry
    through ``broker_url`` (``mqtts://`` with ``ca_file``: the gateway and the publishers speak TLS); print it."""
    expected = rounds * fleet.readings_per_round
    messages_total = rounds * (fleet.lamps + fleet.gauges)
    msg_rate = messages_total / seconds
    data_dir = tempfile.mkdtemp(prefix="streetwatch-bench-")
    metrics_port, api_port = free_port(), free_port()
    env = {**os.environ, "STREETWATCH_DATABASE_URL": db_url, "STREETWATCH_MQTT_URL": broker_url,
           "STREETWATCH_DATA_DIR": data_dir, "STREETWATCH_MQTT__CLIENT_ID": f"bench-gw-{uuid.uuid4().hex[:6]}",
           **({"STREETWATCH_MQTT__CA_FILE": ca_file} if ca_file else {}),
           "STREETWATCH_GATEWAY__METRICS_PORT": str(metrics_port), "STREETWATCH_GATEWAY__API_PORT": str(api_port),
           "STREETWATCH_LOG_LEVEL": "WARNING"}
    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "run", "--no-modbus"], env=env,
                               stderr=open(Path(data_dir) / "gateway.log", "wb"))  # noqa: SIM115
    try:
        _wait_healthy(api_port, gateway)
        broker = BrokerUrl.parse(broker_url)
        host, port = broker.host, broker.port
        ctx = multiprocessing.get_context("spawn")
        go, results = ctx.Event(), ctx.Queue()
        readies = [ctx.Event() for _ in range(publishers)]
        jobs = [PublisherJob(host, int(port), fleet, rounds, i, publishers, msg_rate / publishers, ca_file)
                for i in range(publishers)]
        procs = [ctx.Process(target=_publisher, name=f"bench-publisher-{i}", args=(job, ready, go, results))
                 for i, (job, ready) in enumerate(zip(jobs, readies, strict=True))]
        for proc in procs:
            proc.start()
        for ready in readies:
            ready.wait()
        cpu = ProcessCpu({"gateway": [gateway.pid], **server_pids})
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        started = time.perf_counter()
        go.set()
        samples: list[tuple[float, float]] = []
        published_at: float | None = None
        progress_at = 0.0  # when the stored count last grew
        while True:
            time.sleep(1.0)
            now, stored = time.perf_counter() - started, _stored(metrics_url)
            if stored is not None:
                if not samples or stored > samples[-1][1]:
                    progress_at = now
                samples.append((now, stored))
            if published_at is None and all(not p.is_alive() for p in procs):
                published_at = now
            # A loaded machine is slow, not lossy: wait while the store still grows (a stalled gateway
            # shows as lost readings, and so does one still at work after ten times the offered time).
            given_up = now > seconds * 3 + 60 and (now - progress_at > 20 or now > seconds * 10 + 120)
            if (stored is not None and stored >= expected) or given_up:
                break
        if not samples:
            raise SystemExit(f"the gateway's metrics ({metrics_url}) never answered within 5 s")
        elapsed = _interpolated_end(samples, expected)
        cpu_s = cpu.seconds()
        try:
            final = _metrics(metrics_url)
        except OSError:
            final = {}  # only the store-write summary is left out
        reports = [results.get() for _ in procs]
        acked = sum(acknowledged for acknowledged, _ in reports)
        cpu_s["publishers"] = sum(seconds for _, seconds in reports)
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=15)
        notes = [line for line in (Path(data_dir) / "gateway.log").read_text().splitlines()
                 if " WARNING " in line or " ERROR " in line]
    finally:
        if gateway.poll() is None:
            gateway.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    total, distinct = count_readings(db_url)
    rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples)
             if b[0] <= (published_at or b[0])]
    complete = samples[-1][1] >= expected
    # Cut off by the time limit: what was stored by then, in that time (all expected readings would overstate it).
    e2e = expected / elapsed if complete else samples[-1][1] / samples[-1][0]
    print(f"{label:<21} {e2e:>10,.0f} readings/s  ({expected:,} readings published and stored in"
          f" {elapsed:.1f} s; stored {total:,}, distinct {distinct:,}, lost {expected - distinct:,};"
          f" publishers' PUBACKs {acked:,} of {messages_total:,})")
    if rates:
        print(f"  stored per second while publishing: min {min(rates):,.0f}, median"
              f" {statistics.median(rates):,.0f}, max {max(rates):,.0f}; all stored"
              f" {max(0.0, elapsed - (published_at or elapsed)):.1f} s after the last PUBACK")
    batches = final.get("streetwatch_store_write_batch_seconds_count", 0.0)
    if batches:
        print(f"  store writes: {batches:,.0f} batches, {expected / batches:,.0f} readings and"
              f" {final['streetwatch_store_write_batch_seconds_sum'] / batches * 1000:.0f} ms each on average;"
              f" the gateway logged {len(notes)} warning(s)")
    for note, count in Counter(note[24:120] for note in notes).most_common(5):
        print(f"    {count:,} x {note}")
    print("  CPU seconds: " + ", ".join(f"{name} {value:.1f}" for name, value in cpu_s.items())
          + f" (the machine has {os.cpu_count()} cores x {elapsed:.0f} s); a reading: "
          + ", ".join(f"{name} {value / expected * 1e6:.1f} µs" for name, value in cpu_s.items()), flush=True)
    if not complete:
        print(f"  NOT every reading was stored within {samples[-1][0]:.0f} s (the time limit): the rate is of the"
              f" {samples[-1][1]:,.0f} stored by then, and 'lost' counts readings still on their way", flush=True)
    return Measured(e2e, expected, distinct, acked, cpu_s, complete)


def _wait_healthy(api_port: int, gateway: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            raise SystemExit(f"the gateway exited with {gateway.returncode} at start")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the gateway did not become healthy within 60 s")


def _interpolated_end(samples: list[tuple[float, float]], expected: int) -> float:
    """When the stored count reached ``expected`` (between two one-second samples)."""
    for (t0, s0), (t1, s1) in itertools.pairwise(samples):
        if s1 >= expected > s0:
            return t0 + (t1 - t0) * (expected - s0) / (s1 - s0)
    return samples[-1][0]
