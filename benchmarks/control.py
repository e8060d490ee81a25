"""Benchmark: the latency of one dim command, and the time to dim 10,000 lamps, over real Modbus TCP.

    streetwatch bench control                                   # SQLite in a temp dir
    streetwatch bench control --postgres                        # a throwaway TimescaleDB
    streetwatch bench control --lamps 2000 --database-url postgresql://…/empty_db

The lamp controllers are the drivers' profile-driven Modbus server (``simulators.modbus_server``)
in a child process, as devices are other machines: ``--lamps`` unit ids spread over as many
Modbus TCP servers as it takes at 245 units each (Modbus unit ids stop at 247). The devices are
registered in the registry, the gateway side is the real :class:`Dispatcher` with its
:class:`ModbusChannel` and :class:`CommandStore`.

1. **One lamp**: ``--samples`` dim commands one after another through ``Dispatcher.submit``; for
   each, the time until the server accepted the register write and until the dispatcher recorded
   the delivery confirmed (written, read back, stored). Baseline: a bare ``write_metric`` (write
   and read back with the drivers, no database) to the same lamp.
2. **From the CLI**: the command queued in the database by another store handle, as ``streetwatch
   lamp dim`` does, and picked up by the dispatcher's poll (``pickup_interval_s``); then whole
   ``streetwatch lamp dim … --wait`` processes, from their start to their exit.
3. **10,000 lamps**: one command for the group of every lamp: queue (resolve, fan out, insert the
   deliveries), then until every register is written and every delivery confirmed. Baseline: the
   same writes with the drivers alone, every bus at once, each bus one request at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from control.dispatcher import Dispatcher
from control.lookup import RegistryLookup
from control.modbus_channel import ModbusChannel
from control.model import Action, CommandTarget
from control.store import CommandStore
from device_drivers.modbus import BusPool, BusSettings, write_metric
from device_registry import Device, ImportRow, Registry
from device_registry.device import ModbusTcpAddress
from device_registry.profile import shipped_profiles
from simulators.modbus_server import ModbusSimServer, WriteEvent
from streetwatch.config import ControlSettings, DatabaseUrl
from streetwatch.database import open_database

UNITS_PER_SERVER = 245
PROFILE = "sw-lamp-controller"
GROUP = "bench-all"


# -- the lamp controllers, in a child process -----------------------------------------------------

def _serve(servers: int, units: int, conn: Connection) -> None:
    asyncio.run(_serve_async(servers, units, conn))


async def _serve_async(servers: int, units: int, conn: Connection) -> None:
    profile = shipped_profiles()[PROFILE]
    writes: list[tuple[int, int, float]] = []  # (port, unit, monotonic time of the accepted write)

    def recorder(port: int) -> Any:
        def hook(event: WriteEvent) -> None:
            if "dim_level_pct" in event.metrics:
                writes.append((port, event.unit, time.monotonic()))
        return hook

    async with AsyncExitStack() as stack:
        ports = []
        for _ in range(servers):
            sim = ModbusSimServer(dict.fromkeys(range(1, units + 1), profile))
            await stack.enter_async_context(sim)
            sim.on_write(recorder(sim.port))
            ports.append(sim.port)
        conn.send(ports)
        loop = asyncio.get_running_loop()
        while (request := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert request == "writes"
            conn.send(list(writes))
            writes.clear()


class Lamps:
    """The child process serving the lamps; ``writes()`` collects what they accepted since last asked."""

    def __init__(self, lamps: int) -> None:
        self.servers = -(-lamps // UNITS_PER_SERVER)
        self.units = min(lamps, UNITS_PER_SERVER)
        self.lamps = lamps
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(self.servers, self.units, child), daemon=True)

    def start(self) -> list[int]:
        self._process.start()
        ports: list[int] = self._conn.recv()
        return ports

    async def writes(self) -> list[tuple[int, int, float]]:
        self._conn.send("writes")
        return await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


# -- measuring -------------------------------------------------------------------------------------

def percentiles(samples_s: Sequence[float]) -> str:
    ordered = sorted(samples_s)
    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000
    return f"p50 {at(0.5):7.2f} ms  p95 {at(0.95):7.2f} ms  p99 {at(0.99):7.2f} ms  max {ordered[-1] * 1000:7.2f} ms"


def _rows(ports: list[int], lamps: int) -> list[ImportRow]:
    rows = []
    for i in range(lamps):
        port, unit = ports[i // UNITS_PER_SERVER], i % UNITS_PER_SERVER + 1
        rows.append(ImportRow(i + 2, {
            "id": f"LP-{i:05d}", "kind": "lamp_controller", "profile": PROFILE, "transport": "modbus-tcp",
            "host": "127.0.0.1", "port": str(port), "unit": str(unit), "lat": f"{23.0 + i * 1e-5:.5f}",
            "lon": "113.26", "site": "bench", "groups": GROUP}))
    return rows


async def one_lamp(dispatcher: Dispatcher, lamps: Lamps, device: Device, samples: int) -> None:
    target = CommandTarget("device", device.id)
    started, confirmed = [], []
    for i in range(samples):
        t0 = time.monotonic()
        command = await dispatcher.submit(target, "set_dim", {"level_pct": 10 + i % 80}, "bench", "latency")
        progress = await dispatcher.wait_for(command.id)
        confirmed.append(time.monotonic() - t0)
        started.append(t0)
        assert progress.status == "confirmed", progress.summary
    written = [t for _, _, t in await lamps.writes()]
    assert len(written) == samples, f"{len(written)} writes for {samples} commands"
    print(f"  submit → register written : {percentiles([w - s for w, s in zip(written, started, strict=True)])}")
    print(f"  submit → confirmed+stored : {percentiles(confirmed)}")


async def bare_writes(pool: BusPool, device: Device, samples: int) -> None:
    assert isinstance(device.address, ModbusTcpAddress)
    bus = await pool.bus_for(device.address)
    profile = shipped_profiles()[PROFILE]
    took = []
    for i in range(samples):
        t0 = time.monotonic()
        await write_metric(bus, device.address.unit, profile, "dim_level_pct", 10 + i % 80)
        took.append(time.monotonic() - t0)
    print(f"  baseline write_metric     : {percentiles(took)}")


async def from_cli(dispatcher: Dispatcher, url: DatabaseUrl, lamps: Lamps, device: Device, samples: int) -> None:
    took = []
    async with open_database(url) as db:
        other = CommandStore(db)  # as the CLI: another handle on the database, no wake-up call
        for i in range(samples):
            # Commands come at any moment, not in step with the dispatcher's poll.
            await asyncio.sleep(random.uniform(0, dispatcher.settings.pickup_interval_s))
            t0 = time.monotonic()
            await other.create(CommandTarget("device", device.id), Action.set_dim, {"level_pct": 5 + i % 90},
                               [device.id], requester="bench", reason="cli path", ttl_s=60)
            while not (await lamps.writes()):  # noqa: ASYNC110 - the lamps are another process: ask them
                await asyncio.sleep(0.005)
            took.append(time.monotonic() - t0)
    print(f"  queued in DB → written     : {percentiles(took)}  (pickup every "
          f"{dispatcher.settings.pickup_interval_s:g} s)")


async def cli_processes(url: DatabaseUrl, device: Device, samples: int) -> None:
    env = dict(os.environ, STREETWATCH_DATABASE_URL=url.url)
    took = []
    for i in range(samples):
        t0 = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "lamp", "dim", device.id, str(20 + i), "--wait", env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"streetwatch lamp dim failed: {err.decode().strip()}")
        took.append(time.monotonic() - t0)
    print(f"  `streetwatch lamp dim --wait` process: {percentiles(took)}")


async def many_lamps(dispatcher: Dispatcher, lamps: Lamps) -> float:
    await lamps.writes()
    t0 = time.monotonic()
    command = await dispatcher.submit(CommandTarget("group", GROUP), "set_dim", {"level_pct": 40}, "bench", "bulk")
    queued = time.monotonic()
    progress = await dispatcher.wait_for(command.id)
    done = time.monotonic()
    writes = await lamps.writes()
    assert progress.summary == f"{lamps.lamps} confirmed", progress.summary
    assert len({(port, unit) for port, unit, _ in writes}) == lamps.lamps
    last_write = max(t for _, _, t in writes)
    print(f"  queued (resolve, fan out, insert) : {queued - t0:6.2f} s")
    print(f"  every register written            : {last_write - t0:6.2f} s")
    print(f"  every delivery confirmed + stored : {done - t0:6.2f} s  ({lamps.lamps / (done - t0):,.0f} lamps/s)")
    return done - t0


async def bare_bulk(pool: BusPool, devices: list[Device]) -> float:
    profile = shipped_profiles()[PROFILE]
    by_bus: dict[str, list[Device]] = {}
    for device in devices:
        by_bus.setdefault(device.bus_key, []).append(device)

    async def one_bus(line: list[Device]) -> None:
        for device in line:
            assert isinstance(device.address, ModbusTcpAddress)
            bus = await pool.bus_for(device.address)
            await write_metric(bus, device.address.unit, profile, "dim_level_pct", 60)

    t0 = time.monotonic()
    async with asyncio.TaskGroup() as group:
        for line in by_bus.values():
            group.create_task(one_bus(line))
    took = time.monotonic() - t0
    print(f"  baseline: drivers alone, every bus at once : {took:6.2f} s  ({len(devices) / took:,.0f} lamps/s)")
    return took


async def run(args: argparse.Namespace, lamps: Lamps, ports: list[int]) -> None:
    url = DatabaseUrl.parse(args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
    settings = ControlSettings(command_ttl_s=120)
    async with open_database(url) as db, BusPool(BusSettings(timeout_s=3.0)) as pool:
        registry = Registry(db)
        await registry.migrate()
        t0 = time.monotonic()
        await registry.import_devices(_rows(ports, lamps.lamps), by="bench")
        print(f"{lamps.lamps:,} lamps on {len(ports)} Modbus TCP servers, registered in {time.monotonic() - t0:.1f} s "
              f"({url.backend})")
        devices = await registry.list()
        store = await CommandStore.open(db)
        first = devices[0]
        async with Dispatcher(store, RegistryLookup(registry), {"modbus": ModbusChannel(pool)},
                              settings=settings) as dispatcher:
            print(f"\n1. one lamp, {args.samples} dim commands in a row")
            await one_lamp(dispatcher, lamps, first, args.samples)
            await bare_writes(pool, first, args.samples)
            await lamps.writes()
            print(f"\n2. from the CLI, {args.cli_samples} commands")
            await from_cli(dispatcher, url, lamps, first, args.cli_samples)
            if args.processes:
                await cli_processes(url, first, args.processes)
            print(f"\n3. dim {lamps.lamps:,} lamps with one command (fanout_concurrency {settings.fanout_concurrency})")
            full = await many_lamps(dispatcher, lamps)
        floor = await bare_bulk(pool, devices)
        print(f"  dispatcher / drivers alone : {full / floor:.2f}×")


@contextlib.contextmanager
def _throwaway_postgres() -> Iterator[str]:
    from benchmarks.servers import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.create_database("bench_control")
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streetwatch bench control", description=__doc__.splitlines()[0])
    parser.add_argument("--lamps", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300, help="dim commands to one lamp")
    parser.add_argument("--cli-samples", type=int, default=20, help="commands queued as the CLI does")
    parser.add_argument("--processes", type=int, default=5, help="whole `streetwatch lamp dim --wait` runs")
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL + TimescaleDB (needs the repository's tests/fixtures)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.postgres and not args.database_url:
            args.database_url = stack.enter_context(_throwaway_postgres())
        lamps = Lamps(args.lamps)
        ports = lamps.start()  # before the event loop: the child is spawned, not forked
        stack.callback(lamps.stop)
        asyncio.run(run(args, lamps, ports))
    print(f"\n(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, median load "
          f"{statistics.median(os.getloadavg()):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
