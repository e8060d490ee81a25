"""``streetwatch simulate``: run simulated lamp controllers, culvert gauges and water-quality probes.

A thin skin over :class:`simulators.fleet.Fleet`: parse the options into a :class:`Scenario`,
start the fleet, say where every device listens, write the registration CSV and/or register the
devices, and run until ``--duration`` has passed or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import typer

from device_registry.errors import ImportRejected, RegistryError
from device_registry.flat import device_to_fields
from device_registry.importer import ImportReport, ImportRow
from device_registry.registry import open_registry
from simulators.errors import SimulatorError
from simulators.faults import FaultSpec
from simulators.fleet import Fleet
from simulators.rain import Rainfall, parse_duration_s
from simulators.scenario import DEMO_CULVERT, GaugeTransport, LampTransport, ProbeTransport, Scenario
from streetwatch.cli_support import UserError, run, settings
from streetwatch.config import Settings
from streetwatch.database import DatabaseError
from streetwatch.mqtt import MqttTransport

SIMULATOR = "streetwatch simulate"
T = TypeVar("T")


def _parsed(option: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None


def simulate(
    ctx: typer.Context,
    lamps: int = typer.Option(0, "--lamps", min=0, help="lamp-post controllers (Modbus)"),
    gauges: int = typer.Option(0, "--gauges", min=0, help="culvert water-level gauges"),
    probes: int = typer.Option(0, "--probes", min=0, help="river water-quality probes"),
    rain: str = typer.Option("", "--rain", metavar="START+DURATION@INTENSITY",
                             help="rain events, comma-separated, e.g. 30s+120s@80mm/h (':triangle' for a peaked one)"),
    faults: str = typer.Option("", "--faults", metavar="[TARGET/]KIND[:COUNT][@START[+DURATION]]",
                               help="faults, comma-separated, e.g. lamp_failure:3,no_answer:2@60s+30s,stuck_sensor:1"),
    mqtt_url: str | None = typer.Option(None, "--mqtt-url", help="broker for MQTT devices (default: mqtt_url setting)"),
    csv_file: Path | None = typer.Option(None, "--csv", dir_okay=False, help="write the registration CSV here"),
    register: bool = typer.Option(False, "--register", help="register the devices in the configured registry"),
    duration: str | None = typer.Option(None, "--duration", help="stop after this long (90s, 10m); default: Ctrl-C"),
    seed: int = typer.Option(1, "--seed", help="same seed, same devices, noise and faults"),
    lamp_transport: LampTransport = typer.Option(LampTransport.tcp, "--lamp-transport"),
    gauge_transport: GaugeTransport = typer.Option(GaugeTransport.mqtt, "--gauge-transport"),
    probe_transport: ProbeTransport = typer.Option(ProbeTransport.tcp, "--probe-transport"),
    host: str = typer.Option("127.0.0.1", "--host", help="address the Modbus servers listen on"),
    base_port: int = typer.Option(0, "--base-port", min=0, max=65535, help="first TCP port (0: free ports)"),
    units_per_port: int = typer.Option(200, "--units-per-port", min=1, max=247, help="unit ids behind each port"),
    per_device_clients: bool = typer.Option(False, "--per-device-clients/--shared-clients",
                                            help="one MQTT connection and last will per device (realism) "
                                                 "or shared connections (scale)"),
    devices_per_client: int = typer.Option(250, "--devices-per-client", min=1, help="MQTT devices per shared client"),
    gauge_interval: str = typer.Option("5s", "--gauge-interval", help="how often gauges report"),
    probe_interval: str = typer.Option("10s", "--probe-interval", help="how often probes report"),
    poll_interval: str = typer.Option("10s", "--poll-interval", help="poll interval registered for Modbus lamps"),
    culvert_lag: str = typer.Option("15s", "--culvert-lag", help="catchment lag of the reference culvert"),
    culvert_drain: str = typer.Option("30s", "--culvert-drain", help="drainage time constant of the culvert"),
    status_every: str = typer.Option("10s", "--status-every", help="print a status line this often (0: never)"),
    id_prefix: str = typer.Option("", "--id-prefix", help="put before every device id, e.g. north-"),
) -> None:
    """Run simulated devices that speak Modbus and MQTT exactly as the shipped profiles say.

    Lamps answer Modbus TCP (many unit ids per port, several ports); gauges publish MQTT (or
    answer Modbus); probes answer Modbus TCP, RTU on a socat serial pair, or publish MQTT. A rain
    event floods the culverts; faults make devices misbehave. The registration CSV is for
    `streetwatch device import`.

    Example: streetwatch simulate --lamps 200 --gauges 4 --rain 30s+120s@80mm/h --faults lamp_failure:3 --csv fleet.csv
    """
    if not (lamps or gauges or probes):
        raise UserError("nothing to simulate: give --lamps, --gauges and/or --probes")
    current = settings(ctx)
    try:
        culvert = replace(DEMO_CULVERT, lag_s=_seconds("--culvert-lag", culvert_lag),
                          drain_s=_seconds("--culvert-drain", culvert_drain))
        scenario = Scenario(
            lamps=lamps, gauges=gauges, probes=probes, seed=seed, culvert=culvert,
            rainfall=_parsed("--rain", Rainfall.parse, rain),
            faults=_parsed("--faults", FaultSpec.parse_many, faults),
            lamp_transport=lamp_transport, gauge_transport=gauge_transport, probe_transport=probe_transport,
            gauge_interval_s=_seconds("--gauge-interval", gauge_interval),
            probe_interval_s=_seconds("--probe-interval", probe_interval),
            lamp_poll_interval_s=_seconds("--poll-interval", poll_interval),
            host=host, base_port=base_port, units_per_port=units_per_port,
            per_device_clients=per_device_clients, devices_per_client=devices_per_client, id_prefix=id_prefix,
        )
        fleet = Fleet(scenario, mqtt=MqttTransport.from_settings(current, mqtt_url) if scenario.uses_mqtt else None,
                      client_prefix=f"sim-{id_prefix}{seed}")
    except (ValueError, SimulatorError) as exc:
        raise UserError(str(exc)) from None
    seconds = _seconds("--duration", duration) if duration else None
    every = _seconds("--status-every", status_every)
    try:
        run(_run(fleet, current, csv_file=csv_file, register=register, duration_s=seconds, status_every_s=every))
    except KeyboardInterrupt:
        typer.echo("stopped")
    except SimulatorError as exc:
        raise UserError(str(exc)) from None


def _seconds(option: str, text: str) -> float:
    return _parsed(option, parse_duration_s, text)


async def _run(fleet: Fleet, current: Settings, *, csv_file: Path | None, register: bool, duration_s: float | None,
               status_every_s: float) -> None:
    # SIGTERM and Ctrl-C end the run the same way as --duration does: the fleet closes, a summary is printed.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        await _simulate(fleet, current, csv_file=csv_file, register=register, duration_s=duration_s,
                        status_every_s=status_every_s, stop=stop)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


async def _simulate(fleet: Fleet, current: Settings, *, csv_file: Path | None, register: bool,
                    duration_s: float | None, status_every_s: float, stop: asyncio.Event) -> None:
    async with fleet:
        typer.echo(f"simulating (seed {fleet.scenario.seed}):")
        for line in fleet.describe():
            typer.echo(f"  {line}")
        if csv_file is not None:
            try:
                count = fleet.write_csv(csv_file)
            except OSError as exc:
                raise SimulatorError(f"--csv {csv_file}: cannot write it: {exc.strerror}") from None
            typer.echo(f"wrote {count} device(s) to {csv_file} (register them: streetwatch device import {csv_file})")
        if register:
            report = await _register(fleet, current)
            typer.echo(f"registered in {current.database.backend}: {report.added} added, {report.updated} updated, "
                       f"{report.unchanged} unchanged")
        typer.echo("running" + (f" for {duration_s:g} s" if duration_s is not None else "; Ctrl-C stops"))
        status = asyncio.create_task(_status(fleet, status_every_s), name="simulate-status")
        try:
            await fleet.run(duration_s, stop=stop)
        finally:
            status.cancel()
            await asyncio.wait([status])
        typer.echo(f"{'stopped' if stop.is_set() else 'done'}: {status_line(fleet)}")


async def _register(fleet: Fleet, current: Settings) -> ImportReport:
    rows = [ImportRow(i + 2, device_to_fields(device)) for i, device in enumerate(fleet.registered)]
    try:
        async with open_registry(current.database, profiles_dir=current.profiles_dir) as registry:
            return await registry.import_devices(rows, update=True, by=SIMULATOR)
    except ImportRejected as exc:
        raise SimulatorError(f"the registry refused the devices: {exc}") from None
    except (RegistryError, DatabaseError) as exc:
        raise SimulatorError(f"--register: {exc}") from None


async def _status(fleet: Fleet, every_s: float) -> None:
    if every_s <= 0:
        return
    while True:
        await asyncio.sleep(every_s)
        typer.echo(status_line(fleet))


def status_line(fleet: Fleet) -> str:
    """``t=40s rain 80 mm/h | CG-001 612 mm | MQTT 123 published | Modbus 456 requests``."""
    now = fleet.clock.now()
    elapsed = fleet.elapsed_s()
    parts = [f"t={elapsed:.0f}s"]
    if fleet.scenario.rainfall.events:
        parts.append(f"rain {fleet.scenario.rainfall.intensity_mm_h(elapsed):g} mm/h")
    if fleet.gauges:
        highest_id, highest = max(((i, g.true_level_mm(now)) for i, g in fleet.gauges.items()), key=lambda p: p[1])
        parts.append(f"highest culvert {highest_id} {highest:.0f} mm")
    if fleet.mqtt is not None:
        parts.append(f"MQTT {fleet.mqtt.stats.published} published, {fleet.mqtt.stats.commands} command(s)")
    if fleet.servers:
        requests = sum(server.request_count(unit) for server in fleet.servers for unit in server.units)
        parts.append(f"Modbus {requests} request(s)")
    return " | ".join(parts)
