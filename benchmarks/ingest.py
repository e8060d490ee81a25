"""Benchmark: MQTT telemetry end to end — simulated devices → Mosquitto → ``streetwatch run`` → TimescaleDB.

    streetwatch bench ingest --seconds 60 --rate 50000

Registers lamp controllers (10 metrics a message) and culvert gauges (3 metrics), starts the gateway
as its own process (``streetwatch run``, as deployed), and publishes their telemetry with QoS 1 at
``--rate`` readings/s for ``--seconds`` from publisher processes. It prints the end-to-end rate (every
reading published until every reading is in the store), the stored rate second by second, and
checks that nothing was lost. In the same run, for the same readings: a bare binary COPY into a
hypertable of the same layout (the machine's limit) and a naive bridge (a paho callback doing one
INSERT per reading). Starts its own PostgreSQL and Mosquitto unless given URLs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.publisher import publish
from benchmarks.system import ProcessCpu, children_of, durable_postgres, free_port, test_servers
from device_registry import open_registry, read_csv
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


def _publisher(job: PublisherJob, ready: EventType, go: EventType, results: Any) -> None:
    """A publisher process: encode its share first, then publish it when told to go."""
    messages = job.fleet.messages(job.rounds, job.part, job.parts)
    ready.set()
    go.wait()
    cpu_at_go = time.process_time()
    result = asyncio.run(publish(job.host, job.port, f"bench-pub-{job.part}-{uuid.uuid4().hex[:6]}", messages,
                                 rate_msg_s=job.rate_msg_s))
    results.put((result.acknowledged, time.process_time() - cpu_at_go))


def _metrics(metrics_url: str) -> dict[str, float]:
    """The gateway's unlabelled metrics, by name."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    return {name: float(value) for name, value in
            (line.split(" ", 1) for line in text.splitlines() if line and not line.startswith("#") and "{" not in line)}


def _stored(metrics_url: str) -> float:
    return _metrics(metrics_url).get("streetwatch_readings_stored_total", 0.0)


@contextmanager
def services(database_url: str | None, mqtt_url: str | None, inflight: int
             ) -> Iterator[tuple[str, str, dict[str, list[int]]]]:
    """(database URL, MQTT URL, pids of the throwaway servers by name) — throwaway servers unless URLs are given."""
    with ExitStack() as stack:
        pids: dict[str, list[int]] = {}
        if database_url is None or mqtt_url is None:
            _, mosquitto_server = test_servers()
            if database_url is None:
                pg = durable_postgres()
                pg.start()
                stack.callback(pg.close)
                database_url = pg.create_database("bench_ingest")
                pids["database"] = [pg.pid]
            if mqtt_url is None:
                broker = mosquitto_server()
                config = broker.config.read_text().replace("max_inflight_messages 100",
                                                           f"max_inflight_messages {inflight}")
                broker.config.write_text(config)
                broker.start()
                stack.callback(broker.close)
                mqtt_url = broker.url
                pids["broker"] = [broker.pid]
        yield database_url, mqtt_url, pids


async def register(database_url: str, fleet: Fleet) -> None:
    header = "id,kind,profile,transport,lat,lon"
    rows = [header] + [f"{d},{'lamp_controller' if m is LAMP_METRICS else 'culvert_gauge'},"
                       f"{'bench-lamp-mqtt' if m is LAMP_METRICS else 'sw-culvert-gauge-mqtt'},mqtt,23.1,113.2"
                       for d, m in fleet.devices()]
    async with open_registry(database_url) as registry:
        await registry.add_profile(LAMP_PROFILE, "toml", source="bench", by="bench")
        await registry.import_devices(read_csv("\n".join(rows)), by="bench", update=True)


def naive_bridge(database_url: str, mqtt_url: str, fleet: Fleet, sample_messages: int) -> tuple[int, float]:
    """A paho client whose callback INSERTs each reading (autocommit): what many bridges do."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from benchmarks.store import BASELINE_DDL

    broker = BrokerUrl.parse(mqtt_url)
    host, port = broker.host, broker.port
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(BASELINE_DDL.format(table="bench_naive").encode())
        devices: dict[str, int] = dict(conn.execute("SELECT device_id, device_key FROM device_keys").fetchall())
        metrics: dict[str, int] = dict(conn.execute("SELECT metric, metric_key FROM metric_keys").fetchall())
        done = threading.Event()
        inserted = 0
        first: list[float] = []

        def on_message(_client: Any, _userdata: Any, message: Any) -> None:
            nonlocal inserted
            if not first:
                first.append(time.perf_counter())
            document = json.loads(message.payload)
            device = message.topic.split("/")[2]
            ts = datetime.fromisoformat(document.pop("ts"))
            for metric, value in document.items():
                conn.execute("INSERT INTO bench_naive (ts, device_key, metric_key, value) VALUES (%s, %s, %s, %s)"
                             " ON CONFLICT DO NOTHING", (ts, devices[device], metrics[metric], value))
                inserted += 1
            if inserted >= expected:
                done.set()

        messages = fleet.messages(1 + sample_messages // max(1, fleet.lamps + fleet.gauges), 0, 1)[:sample_messages]
        expected = sum(json.loads(p).__len__() - 1 for _, p in messages)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"naive-{uuid.uuid4().hex[:6]}")
        client.on_message = on_message
        client.connect(host, int(port))
        client.subscribe(topics.TELEMETRY_SUBSCRIPTION, qos=1)
        client.loop_start()
        time.sleep(0.5)
        asyncio.run(publish(host, int(port), "naive-pub", messages))
        done.wait(timeout=600)
        elapsed = time.perf_counter() - first[0]
        client.loop_stop()
        client.disconnect()
    return inserted, elapsed


def bare_copy(database_url: str, readings: list[Reading], database_pids: list[int]) -> tuple[float, float]:
    """(seconds, CPU seconds of this process and the database) of one binary COPY of ``readings``."""
    from benchmarks.store import create_baseline, run_bare_copy

    asyncio.run(create_baseline(database_url, "bench_copy"))
    cpu = ProcessCpu({"database": database_pids})
    client_cpu = time.process_time()
    before = {child for pid in database_pids for child in children_of(pid)}
    seconds = asyncio.run(run_bare_copy(database_url, readings))
    client_cpu = time.process_time() - client_cpu
    # The COPY's backend has exited; its CPU counts (as the server's children's) once the server reaped it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(child not in before for pid in database_pids
                                              for child in children_of(pid)):
        time.sleep(0.05)
    return seconds, client_cpu + cpu.seconds()["database"]


def count_readings(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (device_key, metric_key, ts)) FROM readings").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def run(*, seconds: float, rate: float, lamp_share: float, devices: int, publishers: int, copy_sample: int,
        naive_sample: int, database_url: str | None, mqtt_url: str | None, inflight: int = 100) -> None:
    lamps = round(devices * lamp_share)
    fleet = Fleet(lamps, devices - lamps, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    per_round = fleet.readings_per_round
    rounds = max(1, round(rate * seconds / per_round))
    expected = rounds * per_round
    messages_total = rounds * devices
    msg_rate = messages_total / seconds
    with services(database_url, mqtt_url, inflight) as (db_url, broker_url, server_pids), \
            tempfile.TemporaryDirectory(prefix="streetwatch-bench-") as data_dir:
        asyncio.run(register(db_url, fleet))
        print(f"{devices:,} devices ({lamps:,} lamp controllers x {len(LAMP_METRICS)} metrics, {devices - lamps:,}"
              f" gauges x {len(GAUGE_METRICS)}): {expected:,} readings in {messages_total:,} QoS 1 messages, offered"
              f" at {expected / seconds:,.0f} readings/s ({msg_rate:,.0f} msg/s) for {seconds:g} s over"
              f" {publishers} connections", flush=True)
        metrics_port, api_port = free_port(), free_port()
        env = {**os.environ, "STREETWATCH_DATABASE_URL": db_url, "STREETWATCH_MQTT_URL": broker_url,
               "STREETWATCH_DATA_DIR": data_dir, "STREETWATCH_MQTT__CLIENT_ID": f"bench-gw-{uuid.uuid4().hex[:6]}",
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
            jobs = [PublisherJob(host, int(port), fleet, rounds, i, publishers, msg_rate / publishers)
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
                if not samples or stored > samples[-1][1]:
                    progress_at = now
                samples.append((now, stored))
                if published_at is None and all(not p.is_alive() for p in procs):
                    published_at = now
                # A loaded machine is slow, not lossy: wait while the store still grows (a stalled gateway
                # shows as lost readings, and so does one still at work after ten times the offered time).
                given_up = now > seconds * 3 + 60 and (now - progress_at > 20 or now > seconds * 10 + 120)
                if stored >= expected or given_up:
                    break
            elapsed = _interpolated_end(samples, expected)
            cpu_s = cpu.seconds()
            final = _metrics(metrics_url)
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
        total, distinct = count_readings(db_url)
        rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples)
                 if b[0] <= (published_at or b[0])]
        e2e = expected / elapsed
        print(f"gateway, end to end   {e2e:>10,.0f} readings/s  ({expected:,} readings published and stored in"
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
        readings = fleet.readings(rounds, copy_sample)
        copy_s, copy_cpu_s = bare_copy(db_url, readings, server_pids.get("database", []))
        copy_rate = len(readings) / copy_s
        copy_us = copy_cpu_s / len(readings) * 1e6
        del readings
        print(f"bare COPY             {copy_rate:>10,.0f} readings/s  (the same readings, {copy_sample:,} of them,"
              f" one binary COPY into a bare hypertable; {copy_us:.1f} µs of CPU a reading, client and server)",
              flush=True)
        if "broker" in cpu_s and "database" in server_pids:
            # What a gateway that cost no more than a bare COPY could reach here: the broker and the
            # publishers take their share of the same cores whatever the gateway does.
            carry_us = (cpu_s["broker"] + cpu_s["publishers"]) / expected * 1e6
            ceiling = (os.cpu_count() or 1) / ((carry_us + copy_us) / 1e6)
            print(f"ceiling               {ceiling:>10,.0f} readings/s  (= {ceiling / copy_rate:.0%} of bare COPY: all"
                  f" {os.cpu_count()} cores for broker and publishers, {carry_us:.1f} µs a reading as measured"
                  f" above, and a bare COPY, {copy_us:.1f} µs; the gateway's own work counted as nothing)",
                  flush=True)
        inserted, naive_s = naive_bridge(db_url, broker_url, fleet, naive_sample)
        naive_rate = inserted / naive_s
        print(f"naive bridge          {naive_rate:>10,.0f} readings/s  ({inserted:,} readings: paho callback,"
              f" one INSERT each)")
        print(f"gateway = {e2e / copy_rate:.0%} of bare COPY, {e2e / naive_rate:,.0f}x the naive bridge")


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
