"""Benchmark: Modbus polls per second for N devices, and the poll latency.

Starts the devices (profile-driven servers, in a child process so they do not share the
poller's event loop), then polls each device's 10-register block over and over for a while with
a bare pymodbus client (the baseline) and with ``read_device`` (bus lock, response checks,
decoding), alternating in rounds. Prints polls/s, p50/p99 latency and the poller's CPU per poll.

    streetwatch bench modbus-drivers --devices 200 --seconds 10
    streetwatch bench modbus-drivers --devices 300 --kind rtu-over-tcp --units-per-port 30

Bounded by design: at most ``--seconds`` per phase, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient

from device_drivers.errors import DriverError
from device_drivers.modbus import BusKind, BusSettings, Endpoint, ModbusBus
from device_drivers.modbus.driver import read_device
from device_registry.profile import Profile, check_profile

BLOCK = 10


def bench_profile() -> Profile:
    """Ten input registers: supply voltage, current, power (f32), energy (u32) and the like."""
    metrics = [
        {"name": "supply_voltage_v", "table": "input", "address": 0, "scale": 0.1},
        {"name": "lamp_current_a", "table": "input", "address": 1, "scale": 0.001},
        {"name": "power_w", "table": "input", "address": 2, "type": "f32"},
        {"name": "energy_kwh", "table": "input", "address": 4, "type": "u32", "scale": 0.01},
        {"name": "power_factor", "table": "input", "address": 6, "scale": 0.001},
        {"name": "lamp_running_hours", "table": "input", "address": 7, "type": "u32"},
        {"name": "controller_temp_c", "table": "input", "address": 9, "type": "i16", "scale": 0.1},
    ]
    profile, problems = check_profile({"name": "bench-10", "kind": "lamp_controller", "transport": "modbus",
                                       "modbus": {"metrics": metrics}})
    assert profile is not None, problems
    return profile


def _serve(kind: BusKind, ports: int, units_per_port: int, pipe: Connection) -> None:
    """Child process: the devices. Sends the ports, then serves until the pipe closes."""
    from simulators.modbus_server import ModbusSimServer

    async def main() -> None:
        profile = bench_profile()
        servers = []
        for _ in range(ports):
            server = ModbusSimServer(dict.fromkeys(range(1, units_per_port + 1), profile),
                                     kind="rtu-over-tcp" if kind == "rtu-over-tcp" else "tcp")
            for unit in range(1, units_per_port + 1):
                server.set_value(unit, "supply_voltage_v", 230.0)
                server.set_value(unit, "power_w", 94.75)
            await server.__aenter__()
            servers.append(server)
        pipe.send([s.port for s in servers])
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # wait for "stop"
        for server in servers:
            await server.__aexit__(None, None, None)

    asyncio.run(main())


@dataclass
class Result:
    polls: int
    errors: int
    seconds: float
    latencies_s: list[float]
    cpu_s: float

    def line(self, name: str) -> str:
        lat = sorted(self.latencies_s) or [0.0]
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        cpu_us = self.cpu_s / max(self.polls, 1) * 1e6
        return (f"{name:<22} {self.polls / self.seconds:>7,.0f} polls/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                f"poller CPU {cpu_us:4.0f} µs/poll  ({self.polls:,} polls, {self.errors} errors)")


async def _drive(pollers: list[Callable[[], Awaitable[object]]], seconds: float, concurrency: int) -> Result:
    """Each device polls in a closed loop; at most ``concurrency`` requests in flight."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def loop(poll: Callable[[], Awaitable[object]]) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            async with gate:
                started = time.perf_counter()
                try:
                    await poll()
                except DriverError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as group:
        for i, poll in enumerate(pollers):
            group.create_task(loop(poll), name=f"bench-poll-{i}")
    return Result(len(latencies), errors, time.perf_counter() - started, latencies,
                  time.process_time() - cpu_started)


async def _bench(ports: list[int], kind: BusKind, units: int, *, seconds: float, concurrency: int,
                 rounds: int) -> None:
    profile = bench_profile()
    framer = FramerType.RTU if kind == "rtu-over-tcp" else FramerType.SOCKET
    raw_clients = [AsyncModbusTcpClient("127.0.0.1", port=p, framer=framer, retries=0, reconnect_delay=0)
                   for p in ports]
    buses = [ModbusBus(Endpoint(kind, host="127.0.0.1", port=p), BusSettings(timeout_s=3.0)) for p in ports]
    for client, bus in zip(raw_clients, buses, strict=True):
        await client.connect()
        await bus.__aenter__()
        await bus.connect()  # connecting is not polling: both sides start connected

    def raw_poll(client: AsyncModbusTcpClient, unit: int) -> Callable[[], Awaitable[object]]:
        return lambda: client.read_input_registers(0, count=BLOCK, device_id=unit)

    def device_poll(bus: ModbusBus, unit: int) -> Callable[[], Awaitable[object]]:
        return lambda: read_device(bus, unit, profile)

    sample = await read_device(buses[0], 1, profile)
    if sample.values.get("power_w") != 94.75 or sample.errors:
        raise SystemExit(f"the devices do not answer as the profile says: {sample}")
    methods = {
        "bare pymodbus client": [raw_poll(c, u) for c in raw_clients for u in range(1, units + 1)],
        "read_device (decoded)": [device_poll(b, u) for b in buses for u in range(1, units + 1)],
    }
    totals: dict[str, Result] = {}
    for _ in range(rounds):  # alternate, so a neighbour's load on the machine hits both alike
        for name, pollers in methods.items():
            result = await _drive(pollers, seconds / rounds, concurrency)
            total = totals.setdefault(name, Result(0, 0, 0.0, [], 0.0))
            total.polls += result.polls
            total.errors += result.errors
            total.seconds += result.seconds
            total.latencies_s += result.latencies_s
            total.cpu_s += result.cpu_s
    for client, bus in zip(raw_clients, buses, strict=True):
        client.close()
        await bus.__aexit__(None, None, None)
    for name, total in totals.items():
        print(total.line(name))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="streetwatch bench modbus-drivers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=200, help="devices in all (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="polling time of each method (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two methods (default 5)")
    parser.add_argument("--kind", choices=["tcp", "rtu-over-tcp"], default="tcp",
                        help="tcp: one port per device; rtu-over-tcp: converters with many units each")
    parser.add_argument("--units-per-port", type=int, default=1, help="unit ids behind each port (default 1)")
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight at most (default 200)")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.units_per_port < 1 or args.rounds < 1 or not 0 < args.seconds <= 120:
        parser.error("--devices, --units-per-port and --rounds must be ≥ 1, --seconds in (0, 120]")
    ports = max(1, args.devices // args.units_per_port)
    devices = ports * args.units_per_port
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(args.kind, ports, args.units_per_port, child), name="bench-modbus-devices")
    server.start()
    try:
        port_list = parent.recv()
        print(f"{devices} devices ({args.kind}, {ports} ports × {args.units_per_port} units), {BLOCK}-register "
              f"blocks, {args.concurrency} in flight, {args.seconds:g} s per method in {args.rounds} rounds, "
              f"servers in a child process")
        asyncio.run(_bench(port_list, args.kind, args.units_per_port, seconds=args.seconds,
                           concurrency=args.concurrency, rounds=args.rounds))
    finally:
        parent.send("stop")
        server.join(timeout=30)
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    main()
