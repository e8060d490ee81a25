"""Benchmark: the operator API (``streetwatch serve``) over real HTTP with a city's fleet on TimescaleDB.

    streetwatch bench api --devices 100000

Registers the fleet of :mod:`benchmarks.api_fleet` (a district, streets of about 2,000 devices, their
communities; latest values; a day of water levels for one gauge per street) in a throwaway TimescaleDB,
starts ``streetwatch serve`` as its own process and measures over loopback, each beside the same run's
bare SQL query (the floor, through psycopg, no HTTP and no Python objects):

- ``GET /api/v1/devices?area=STREET&limit=1000`` (one street's devices, the first page): p99 < 50 ms;
- ``GET /api/v1/devices.geojson``, the whole fleet: < 1.5 s;
- ``GET /api/v1/devices/GAUGE/readings?bucket=1m``, 24 h of one gauge: p99 < 100 ms;
- 500 clients on ``/api/v1/events``: an alert (written as the rules engine writes it) reaches each
  within 1 s (p99).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from benchmarks.api_events import sse_delivery
from benchmarks.api_fleet import COMMUNITIES_PER_STREET, Fleet, register
from benchmarks.api_server import serving
from benchmarks.system import throwaway_database

TARGETS_MS = {"devices_page": 50.0, "geojson": 1500.0, "geojson_cold": 1500.0, "readings_1m": 100.0,
              "sse_alert": 1000.0}
PAGE = 1000


@dataclass(frozen=True, slots=True)
class Figure:
    """One measurement: the API's latencies and the bare query's, in milliseconds."""

    name: str
    what: str
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    floor_p50_ms: float
    floor_p99_ms: float
    target_ms: float
    detail: str = ""

    @property
    def met(self) -> bool:
        return self.p99_ms < self.target_ms

    def line(self) -> str:
        verdict = "met" if self.met else "MISSED"
        return (f"{self.what}\n    API   p50 {self.p50_ms:8.1f} ms  p99 {self.p99_ms:8.1f} ms  "
                f"max {self.max_ms:8.1f} ms  (n={self.samples}){'  ' + self.detail if self.detail else ''}\n"
                f"    bare  p50 {self.floor_p50_ms:8.1f} ms  p99 {self.floor_p99_ms:8.1f} ms   "
                f"target p99 < {self.target_ms:,.0f} ms: {verdict}")


@dataclass
class Report:
    devices: int
    streets: int
    street_devices: int
    figures: dict[str, Figure] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"devices": self.devices, "streets": self.streets, "street_devices": self.street_devices,
                "figures": {name: {**asdict(f), "met": f.met} for name, f in self.figures.items()}}


def quantile_ms(samples_s: Sequence[float], q: float) -> float:
    ordered = sorted(samples_s)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def figure(name: str, what: str, api_s: Sequence[float], floor_s: Sequence[float], detail: str = "") -> Figure:
    return Figure(name, what, len(api_s), statistics.median(api_s) * 1000, quantile_ms(api_s, 0.99),
                  max(api_s) * 1000, statistics.median(floor_s) * 1000, quantile_ms(floor_s, 0.99),
                  TARGETS_MS[name], detail)


def timed(call: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _get(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> Callable[[], object]:
    def call() -> object:
        answer = client.get(path, params=params)
        answer.raise_for_status()
        return answer.content
    return call


def _query(conn: psycopg.Connection[Any], sql: str, params: Sequence[object]) -> Callable[[], object]:
    def call() -> object:
        return conn.execute(sql.encode(), params).fetchall()
    return call


def _street_areas(street: str) -> list[str]:
    return [street, *(f"{street}-c{c}" for c in range(COMMUNITIES_PER_STREET))]


def measure_http(report: Report, fleet: Fleet, base_url: str, database_url: str, *, samples: int,
                 geojson_samples: int) -> None:
    headers = {"Authorization": f"Bearer {fleet.token}"}  # and gzip, as browsers ask
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client, \
            psycopg.connect(database_url, autocommit=True) as conn:
        areas = _street_areas(fleet.street)
        marks = ", ".join(["%s"] * len(areas))
        page = _get(client, "/api/v1/devices", {"area": fleet.street, "limit": str(PAGE)})
        count = len(client.get("/api/v1/devices", params={"area": fleet.street, "limit": str(PAGE)}).json()["devices"])
        bare_page = _query(conn, f"SELECT d.doc FROM devices d WHERE d.area IN ({marks}) AND d.status <> 'retired' "
                                 f"ORDER BY d.id LIMIT {PAGE + 1}", areas)
        timed(page, 5)
        report.figures["devices_page"] = figure(
            "devices_page", f"GET /api/v1/devices?area={fleet.street}&limit={PAGE} ({count} devices on the page)",
            timed(page, samples), timed(bare_page, samples))

        geojson = _get(client, "/api/v1/devices.geojson")
        features = len(client.get("/api/v1/devices.geojson").json()["features"])
        bare_fleet = _query(conn, "SELECT id, kind, status, area, site, lat, lon FROM devices "
                                  "WHERE status <> 'retired' ORDER BY id", ())
        floor = timed(bare_fleet, geojson_samples)

        def after_a_change() -> object:  # a registry change makes the next answer a new one
            conn.execute(b"UPDATE registry_revision SET revision = revision + 1 WHERE id = 1")
            return geojson()

        report.figures["geojson_cold"] = figure(
            "geojson_cold", f"GET /api/v1/devices.geojson after each registry change ({features:,} features, "
                            f"written and compressed)", timed(after_a_change, geojson_samples), floor)
        report.figures["geojson"] = figure(
            "geojson", f"GET /api/v1/devices.geojson (the whole fleet, {features:,} features, unchanged registry)",
            timed(geojson, max(geojson_samples, samples // 10)), floor)

        start, end = fleet.now - timedelta(days=1), fleet.now
        gauges = itertools.cycle(fleet.history_gauges)

        def readings() -> object:
            return _get(client, f"/api/v1/devices/{next(gauges)}/readings",
                        {"metric": "water_level_mm", "from": start.isoformat(), "to": end.isoformat(),
                         "bucket": "1m"})()

        buckets = len(_get_json(client, f"/api/v1/devices/{fleet.gauge}/readings",
                                {"metric": "water_level_mm", "from": start.isoformat(), "to": end.isoformat(),
                                 "bucket": "1m"})["buckets"])
        floor_gauges = itertools.cycle(fleet.history_gauges)

        def bare_buckets() -> object:
            return conn.execute(
                b"SELECT time_bucket('1 minute'::interval, r.bucket) AS b, min(r.min_value), max(r.max_value), "
                b"sum(r.sum_value) / sum(r.count), sum(r.count) FROM readings_1m r "
                b"JOIN device_keys dk ON dk.device_key = r.device_key "
                b"JOIN metric_keys mk ON mk.metric_key = r.metric_key WHERE dk.device_id = %s "
                b"AND mk.metric = 'water_level_mm' AND r.bucket >= %s AND r.bucket < %s "
                b"GROUP BY b ORDER BY b", (next(floor_gauges), start, end)).fetchall()

        timed(readings, 5)
        report.figures["readings_1m"] = figure(
            "readings_1m", f"GET /api/v1/devices/GAUGE/readings?bucket=1m, 24 h ({buckets:,} buckets, "
                           f"{len(fleet.history_gauges)} gauges in turn)",
            timed(readings, samples), timed(bare_buckets, samples))


def _get_json(client: httpx.Client, path: str, params: dict[str, str]) -> Any:
    answer = client.get(path, params=params)
    answer.raise_for_status()
    return answer.json()


def run(*, devices: int, samples: int = 300, geojson_samples: int = 10, sse_clients: int = 500, alerts: int = 5,
        database_url: str | None = None, poll_s: float = 0.25, log_path: str | None = None) -> Report:
    """Register the fleet, serve it, measure; print the figures and return them."""
    with throwaway_database("bench_api", database_url) as url:
        started = time.perf_counter()
        fleet = asyncio.run(register(url, devices, password="bench password, long enough"))
        print(f"{devices:,} devices in {len(fleet.streets)} streets registered with their readings in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        street_devices = sum(1 for n in range(devices) if n // 2_000 == 0)
        report = Report(devices, len(fleet.streets), street_devices)
        with serving(url, log_path=log_path, STREETWATCH_API__EVENTS_POLL_S=str(poll_s)) as (base_url, pid):
            measure_http(report, fleet, base_url, url, samples=samples, geojson_samples=geojson_samples)
            delivery, floor, detail = asyncio.run(sse_delivery(base_url, url, fleet, clients=sse_clients,
                                                               alerts=alerts, server_pid=pid))
            report.figures["sse_alert"] = figure(
                "sse_alert", f"an alert to {sse_clients} clients of /api/v1/events (api.events_poll_s {poll_s})",
                delivery, floor, detail)
    for item in report.figures.values():
        print(item.line(), flush=True)
    return report
