"""Benchmark: from a reading's arrival to its alert stored and published, under background load.

    streetwatch bench rules                        # SQLite in a temp dir, a throwaway Mosquitto
    streetwatch bench rules --no-gc-tuned          # the garbage collector as Python sets it (the gateway tunes it)
    streetwatch bench rules --postgres             # a throwaway PostgreSQL+TimescaleDB instead
    streetwatch bench rules --database-url postgresql://… --mqtt-url mqtt://…
    streetwatch bench rules --hydrology            # plus a quality and a projected rule on the background gauges
    streetwatch bench rules --alternate 3          # 3 pairs of loaded phases, without and with those two rules

The rules service (shipped rules; the flood rule's ``for``/``clear_for`` set to 0 so the time
measured is the pipeline's, not the policy's) runs on the real store and a real broker. Readings
enter one queue, as in the gateway: background readings from lamps, gauges and probes at
``--rate`` per second in 50 ms batches, and now and then a probe gauge jumping to 900 mm. Each
probe's latency runs from its arrival in the queue to its alert being stored and acknowledged by
the broker (QoS 1); the time until a subscriber receives it is reported too. A first phase
without background load is the same-run baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.system import test_servers
from device_registry.device import Device, DeviceStatus, Location, MqttAddress
from rules.actions import CommandTarget
from rules.alerts import Alert, AlertTransition
from rules.engine import RulesEngine
from rules.loader import SHIPPED_RULES_DIR, RuleSet, load_ruleset, parse_ruleset
from rules.runner import RulesService
from rules.spec import ThresholdRule
from streetwatch.clock import SystemClock
from streetwatch.config import DatabaseUrl, Settings
from streetwatch.database import open_database
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading

BATCH_INTERVAL_S = 0.05
METRICS = {
    # switched off (day or night, no rule fires for them): the background stays background
    "lamp_controller": {"relay_on": 0.0, "dim_level_pct": 0.0, "power_w": 0.4, "supply_voltage_v": 229.0,
                        "lamp_current_a": 0.002, "energy_kwh": 1234.5, "power_factor": 0.5,
                        "controller_temp_c": 31.0},
    "culvert_gauge": {"water_level_mm": 40.0, "battery_v": 3.9, "signal_quality_pct": 88.0},
    "water_quality_probe": {"ph": 7.3, "dissolved_oxygen_mg_l": 6.8, "turbidity_ntu": 12.0,
                            "conductivity_us_cm": 410.0, "temperature_c": 18.5, "ammonia_nitrogen_mg_l": 0.3},
}
PROFILES = {"lamp_controller": "sw-lamp-controller", "culvert_gauge": "sw-culvert-gauge-mqtt",
            "water_quality_probe": "sw-water-quality-probe-mqtt"}


def _device(device_id: str, kind: str, site: str) -> Device:
    rng = random.Random(device_id)
    return Device(id=device_id, kind=kind, profile=PROFILES[kind], address=MqttAddress(), site=site,
                  location=Location(latitude=31.0 + rng.random(), longitude=121.0 + rng.random()),
                  status=DeviceStatus.active)


def fleet(lamps: int, gauges: int, probes: int, probe_gauges: int) -> dict[str, Device]:
    devices = [_device(f"LP-{i:05d}", "lamp_controller", f"district-{i % 16}") for i in range(lamps)]
    devices += [_device(f"CG-{i:04d}", "culvert_gauge", f"district-{i % 16}") for i in range(gauges)]
    devices += [_device(f"WQ-{i:03d}", "water_quality_probe", f"river-{i % 4}") for i in range(probes)]
    # each probe gauge on a site of its own, so the district group rule stays out of the measurement
    devices += [_device(f"PROBE-{i:03d}", "culvert_gauge", f"bench-{i}").model_copy(
        update={"groups": (f"hazard-bench-{i}",)}) for i in range(probe_gauges)]
    return {d.id: d for d in devices}


# The quality screen and the time-to-level projection of docs/rules.md, on the background gauges only: the
# probe gauges' jump from 100 to 900 mm is exactly what the quality screen holds back as a spike.
HYDROLOGY_RULES = """
rules:
  - name: bench-gauge-quality
    kind: quality
    applies_to: {kinds: [culvert_gauge], devices: ["CG-*"]}
    metric: water_level_mm
    severity: yellow
    spike: 150
    max_rise_per_min: 300
    stuck_for: 30m
    floor: -30
    ceiling: 2350
    battery_min: 3.4
    signal_min: 15
  - name: bench-underpass-projected
    kind: projected
    applies_to: {kinds: [culvert_gauge], devices: ["CG-*"]}
    metric: water_level_mm
    levels: {yellow: 300, orange: 500, red: 800}
    within: 15m
    min_span: 20s     # (3m by default) so that a 30-second phase fits its gauges' rises from its 20th second on
"""


def bench_rules(*, hydrology: bool = False) -> RuleSet:
    shipped = load_ruleset(SHIPPED_RULES_DIR)
    rules = tuple(r.model_copy(update={"for_s": 0.0, "clear_for_s": 0.0})
                  if isinstance(r, ThresholdRule) and r.name == "culvert-water-level" else r for r in shipped.rules)
    if hydrology:
        rules += parse_ruleset(HYDROLOGY_RULES).rules
    return RuleSet(shipped.scale, rules, shipped.origins)


RISE_MM_PER_S = 0.1
"""The background culvert gauges rise 6 mm a minute from 40 mm (a storm's slow start): the projection fits
every gauge's rise (a calm gauge would be spared the fit by its cheap gate) yet projects no level within 15
minutes, and the flood rule's levels stay far off, so the background raises no alert."""


def background(devices: dict[str, Device], elapsed_s: Callable[[], float] = lambda: 0.0,
               ) -> Iterator[tuple[str, str, float]]:
    """(device, metric, value) forever, round-robin over the fleet, with a little noise; the culvert levels
    rise with ``elapsed_s()``."""
    rng = random.Random(7)
    pairs = [(d.id, metric, value) for d in devices.values() if not d.id.startswith("PROBE")
             for metric, value in METRICS[d.kind].items()]
    while True:
        rise = RISE_MM_PER_S * elapsed_s()
        for device_id, metric, value in pairs:
            if metric == "water_level_mm":
                yield device_id, metric, round(value + rise + rng.uniform(-0.5, 0.5))
            else:
                yield device_id, metric, value if metric == "relay_on" else value * (1 + rng.uniform(-0.01, 0.01))


@dataclass
class CountingCommands:
    """Takes the red alerts' lamp commands (the dispatcher is not part of this measurement)."""

    submitted: int = 0

    async def submit(self, target: CommandTarget, action: str, params: dict[str, Any], requester: str,
                     reason: str, *, request_key: str | None = None) -> None:
        self.submitted += 1


@dataclass
class Probes:
    """Arrival times of the probe readings and when their alerts were stored+published and received."""

    arrived: dict[str, float] = field(default_factory=dict)
    published: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def on_announced(self, transition: AlertTransition | None, alert: Alert) -> None:
        if transition is None or transition.event.value != "raised" or alert.rule != "culvert-water-level":
            return
        start = self.arrived.get(alert.device_id)
        if start is not None:
            self.published.append(time.perf_counter() - start)
            self.done.set()


async def _subscriber(mqtt_url: str, probes: Probes, ready: asyncio.Event) -> None:
    import json

    async with MqttTransport.from_url(mqtt_url).client() as client:
        await client.subscribe("streetwatch/alerts/#", qos=1)
        ready.set()
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            body = json.loads(message.payload)
            start = probes.arrived.get(body["device"])
            # a probe gauge used again reopens its cleared alert: that is a raise for the subscriber too
            raised = body["event"] in ("raised", "reopened")
            if raised and body["rule"] == "culvert-water-level" and start is not None:
                probes.received.append(time.perf_counter() - start)


async def run_phase(service: RulesService, devices: dict[str, Device], *, rate: float, seconds: float,
                    probes_per_s: float, probes: Probes, first_probe: int, probe_gauges: int = 200
                    ) -> dict[str, float]:
    """Feed background readings at ``rate``/s and probes; return the achieved rate and queue figures."""
    queue: asyncio.Queue[list[Reading]] = asyncio.Queue(maxsize=200)
    began = time.monotonic()
    source = background(devices, lambda: time.monotonic() - began)
    per_batch = round(rate * BATCH_INTERVAL_S)
    sent = 0
    max_depth = 0

    async def consume() -> None:
        while True:
            batch = await queue.get()
            await service.on_readings(batch)
            queue.task_done()

    async def produce() -> None:
        nonlocal sent, max_depth
        loop = asyncio.get_running_loop()
        start = loop.time()
        next_probe = start + random.expovariate(probes_per_s)
        probe = first_probe
        batch_no = 0
        while loop.time() - start < seconds:
            now = SystemClock().now()
            if per_batch:
                batch = [Reading(d, m, now, v) for d, m, v in (next(source) for _ in range(per_batch))]
                await queue.put(batch)
                sent += len(batch)
            if loop.time() >= next_probe:
                probe_id = f"PROBE-{probe % probe_gauges:03d}"
                await queue.put([Reading(probe_id, "water_level_mm", now, 100.0)])  # reset it first
                probes.arrived[probe_id] = time.perf_counter()
                await queue.put([Reading(probe_id, "water_level_mm", now, 900.0)])
                probe += 1
                next_probe += random.expovariate(probes_per_s)
            max_depth = max(max_depth, queue.qsize())
            batch_no += 1
            await asyncio.sleep(max(0.0, start + batch_no * BATCH_INTERVAL_S - loop.time()))

    async with asyncio.TaskGroup() as group:
        consumer = group.create_task(consume(), name="bench-consumer")
        started = time.perf_counter()
        await produce()
        await queue.join()
        elapsed = time.perf_counter() - started
        consumer.cancel()
    await service.engine.flush()
    return {"readings_per_s": sent / elapsed, "max_queue_batches": max_depth}


class _DiscardSink:
    async def apply(self, transition: AlertTransition) -> None:
        return None


async def engine_capacity(devices: dict[str, Device], readings: int = 200_000, *, hydrology: bool = False) -> float:
    """Readings per second the engine evaluates on its own (shipped rules, no store, no broker)."""
    # Each batch 0.25 s after the last (a reading per series every 4.5 s): the projection's windows span
    # its 20 s and its fits run in the second half of the run.
    step_s = 0.25
    batch_no = 0
    source = background(devices, lambda: batch_no * step_s)
    start = SystemClock().now() - timedelta(seconds=step_s * readings / 1000)
    batches = []
    for batch_no in range(readings // 1000):
        at = start + timedelta(seconds=batch_no * step_s)
        batches.append([Reading(d, m, at, v) for d, m, v in (next(source) for _ in range(1000))])
    rules = bench_rules(hydrology=hydrology)
    async with RulesEngine(_DiscardSink(), clock=SystemClock(), rules=rules, devices=devices) as engine:
        await engine.on_readings(batches[0])  # routes cached, windows started
        started = time.perf_counter()
        for batch in batches[1:]:
            await engine.on_readings(batch)
        return (len(batches) - 1) * 1000 / (time.perf_counter() - started)


@dataclass
class GcPauses:
    """Full (generation 2) garbage collections and how long they stopped everything."""

    pauses_ms: list[float] = field(default_factory=list)
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"n={len(ms):4d}  p50 {statistics.median(ms):6.1f} ms  p90 {ms[int(len(ms) * 0.9)]:6.1f} ms  "
            f"p99 {p99:6.1f} ms  max {ms[-1]:6.1f} ms")


@contextlib.asynccontextmanager
async def _services(args: argparse.Namespace, workdir: Path) -> AsyncIterator[tuple[str, str]]:
    with contextlib.ExitStack() as stack:
        mqtt_url, database_url = args.mqtt_url, args.database_url
        if mqtt_url is None or (database_url is None and args.postgres):
            PostgresServer, MosquittoServer = test_servers()
            if mqtt_url is None:
                broker = MosquittoServer()
                broker.start()
                stack.callback(broker.close)
                mqtt_url = broker.url
            if database_url is None and args.postgres:
                server = PostgresServer()
                server.start()
                stack.callback(server.close)
                database_url = server.create_database("rules_bench")
        yield mqtt_url, database_url or f"sqlite:///{workdir / 'bench.db'}"


async def main_async(args: argparse.Namespace) -> None:
    devices = fleet(args.lamps, args.gauges, args.probes, 200)
    capacity = await engine_capacity(devices)
    with_hydrology = await engine_capacity(devices, hydrology=True)
    with tempfile.TemporaryDirectory(prefix="rules-bench-") as tmp:
        async with _services(args, Path(tmp)) as (mqtt_url, database_url):
            url = DatabaseUrl.parse(database_url)
            print(f"fleet: {len(devices)} devices; store: {url.backend}; broker: {mqtt_url}")
            probes = Probes()
            settings = Settings(mqtt_url=mqtt_url, data_dir=Path(tmp))
            commands = CountingCommands()
            async with open_database(url) as db, RulesService(db, settings, clock=SystemClock(),
                                                              mqtt=MqttTransport.from_settings(settings),
                                                              devices=devices, commands=commands,
                                                              on_announced=probes.on_announced) as service:
                service.apply_rules(bench_rules(hydrology=args.hydrology))
                ready = asyncio.Event()
                subscriber = asyncio.create_task(_subscriber(mqtt_url, probes, ready), name="bench-subscriber")
                await ready.wait()
                results: list[tuple[str, dict[str, float], list[float], list[float]]] = []
                thresholds = settings.gateway.gc_thresholds
                if args.gc_tuned:
                    # What `streetwatch run` does once started ([gateway] gc_tuning): long-lived objects leave
                    # the collector's scans, and batches of readings die young instead of filling the old
                    # generation.
                    gc.freeze()
                    gc.set_threshold(*thresholds)
                pauses = GcPauses()
                gc.callbacks.append(pauses)
                for name, rate, seconds, hydrology in _phases(args):
                    label = name
                    if args.alternate:
                        service.apply_rules(bench_rules(hydrology=hydrology))
                        label += f" (load average {os.getloadavg()[0]:.1f} at its start)"
                    probes.published.clear()
                    probes.received.clear()
                    figures = await run_phase(service, devices, rate=rate, seconds=seconds,
                                              probes_per_s=args.probes_per_s, probes=probes,
                                              first_probe=len(results) * 100)
                    await asyncio.sleep(0.5)  # the last probes' messages reach the subscriber
                    results.append((label, figures, list(probes.published), list(probes.received)))
                subscriber.cancel()
                await asyncio.wait([subscriber])
                gc.callbacks.remove(pauses)
                stats = service.engine.stats
    print(f"engine alone (no store, no broker): {capacity:,.0f} readings/s; with the quality and projected rules "
          f"on the background gauges: {with_hydrology:,.0f} readings/s")
    if args.alternate:
        print(f"rules in the run: shipped, and shipped + quality + projected, alternately ({args.alternate} pairs)")
    else:
        print(f"rules in the run: shipped{' + quality + projected (--hydrology)' if args.hydrology else ''}")
    worst = max(pauses.pauses_ms, default=0.0)
    tuning = (f"gc tuned as streetwatch run: freeze, thresholds {'/'.join(map(str, thresholds))}" if args.gc_tuned
              else "gc not tuned")
    print(f"full garbage collections during the phases: {len(pauses.pauses_ms)}, longest {worst:.1f} ms ({tuning})")
    print(f"engine in the run: {stats.readings:,} readings evaluated, {stats.transitions} transitions, "
          f"{stats.unknown_devices} unknown, {stats.stale_readings} stale")
    for label, figures, published, received in results:
        print(f"\n{label}: achieved {figures['readings_per_s']:,.0f} readings/s, "
              f"deepest queue {figures['max_queue_batches']:.0f} batch(es)")
        print(f"  arrival → stored + published (PUBACK): {_percentiles(published)}")
        print(f"  arrival → received by a subscriber:     {_percentiles(received)}")


def _phases(args: argparse.Namespace) -> list[tuple[str, float, float, bool]]:
    """(label, rate, seconds, with the quality and projected rules) of each phase, in order."""
    loaded = f"{args.rate:,.0f} background readings/s"
    phases = [("baseline, no background load", 0.0, args.baseline_seconds, args.hydrology)]
    if not args.alternate:
        return [*phases, (loaded, args.rate, args.seconds, args.hydrology)]
    for pair in range(1, args.alternate + 1):
        phases += [(f"{loaded}, shipped rules, pair {pair}", args.rate, args.seconds, False),
                   (f"{loaded}, + quality and projected, pair {pair}", args.rate, args.seconds, True)]
    return phases


def pipeline_arguments(parser: argparse.ArgumentParser, *, probes_per_s: float) -> None:
    """The options of the readings pipeline this benchmark and ``bench rules-duty`` share."""
    parser.add_argument("--rate", type=float, default=20_000, help="background readings per second")
    parser.add_argument("--seconds", type=float, default=30, help="length of each loaded phase")
    parser.add_argument("--baseline-seconds", type=float, default=10, help="length of the unloaded phase")
    parser.add_argument("--probes-per-s", type=float, default=probes_per_s,
                        help="probe gauges jumping to 900 mm per second")
    parser.add_argument("--lamps", type=int, default=2_000)
    parser.add_argument("--gauges", type=int, default=500)
    parser.add_argument("--probes", type=int, default=100, help="water-quality probes")
    parser.add_argument("--database-url", help="default: SQLite in a temp dir (or --postgres)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL+TimescaleDB")
    parser.add_argument("--mqtt-url", help="default: start a throwaway Mosquitto")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streetwatch bench rules", description=__doc__.split("\n\n")[0])
    pipeline_arguments(parser, probes_per_s=5)
    parser.add_argument("--hydrology", action="store_true",
                        help="add a quality and a projected rule on the background gauges (docs/rules.md)")
    parser.add_argument("--alternate", type=int, default=0, metavar="N",
                        help="N pairs of loaded phases in one run: the shipped rules, then with the quality and "
                             "projected rules switched on (same process, broker and store), each pair in turn")
    parser.add_argument("--gc-tuned", action=argparse.BooleanOptionalAction, default=True,
                        help="gc.freeze() once started and gc.set_threshold(50000, 20, 100), as `streetwatch run` "
                             "does by default ([gateway] gc_tuning); --no-gc-tuned leaves the collector alone")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
