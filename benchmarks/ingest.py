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
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from benchmarks import ingest_run
from benchmarks.ingest_run import GAUGE_METRICS, LAMP_METRICS, LAMP_PROFILE, Fleet
from benchmarks.publisher import publish
from benchmarks.system import ProcessCpu, children_of, durable_postgres, test_servers
from device_registry import open_registry, read_csv
from streetwatch import topics
from streetwatch.mqtt import BrokerUrl
from streetwatch.readings import Reading


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


def run(*, seconds: float, rate: float, lamp_share: float, devices: int, publishers: int, copy_sample: int,
        naive_sample: int, database_url: str | None, mqtt_url: str | None, inflight: int = 100) -> None:
    lamps = round(devices * lamp_share)
    fleet = Fleet(lamps, devices - lamps, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    per_round = fleet.readings_per_round
    rounds = max(1, round(rate * seconds / per_round))
    expected = rounds * per_round
    messages_total = rounds * devices
    msg_rate = messages_total / seconds
    with services(database_url, mqtt_url, inflight) as (db_url, broker_url, server_pids):
        asyncio.run(register(db_url, fleet))
        print(f"{devices:,} devices ({lamps:,} lamp controllers x {len(LAMP_METRICS)} metrics, {devices - lamps:,}"
              f" gauges x {len(GAUGE_METRICS)}): {expected:,} readings in {messages_total:,} QoS 1 messages, offered"
              f" at {expected / seconds:,.0f} readings/s ({msg_rate:,.0f} msg/s) for {seconds:g} s over"
              f" {publishers} connections", flush=True)
        measured = ingest_run.measure(db_url, broker_url, fleet, rounds, publishers, seconds, server_pids)
        e2e, cpu_s = measured.rate, measured.cpu_s
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
