"""``streetwatch device add | show | update | retire | history``: one device at a time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer

from device_registry.cli_common import BY_HELP, parse_pairs, with_registry
from device_registry.device import Device, Transport
from device_registry.errors import InvalidDevice
from device_registry.flat import device_from_fields, device_to_fields, split_host_port
from device_registry.history import HistoryEntry, diff
from device_registry.observed import Observed, latest_readings
from device_registry.registry import Registry
from streetwatch.cli_support import OutputFormat, UserError, actor, render, settings


def _address_fields(transport: Transport, address: str | None, port: int | None) -> dict[str, str]:
    if transport is Transport.mqtt:
        if address:
            raise InvalidDevice.one("address", "an mqtt device needs no address: its id names its topics")
        return {}
    if not address:
        example = "/dev/ttyUSB0" if transport is Transport.modbus_rtu else "10.20.0.15 or 10.20.0.15:502"
        raise InvalidDevice.one("address", f"required for transport {transport.value} (e.g. --address {example})")
    if transport is Transport.modbus_rtu:
        return {"serial_port": address}
    host, given_port = split_host_port(address)
    if given_port and port is not None and str(port) != given_port:
        raise InvalidDevice.one("port", f"given twice: {given_port} in --address and {port} in --port")
    return {"host": host, "port": given_port or ("" if port is None else str(port))}


def add(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID", help="installer-chosen id, e.g. LP-BY-000123"),
    kind: str = typer.Option(..., "--kind", help="lamp_controller, culvert_gauge, water_quality_probe, …"),
    profile: str = typer.Option(..., "--profile", help="device profile name (streetwatch profile list)"),
    transport: Transport = typer.Option(..., "--transport", help="how the gateway reaches it"),
    address: str | None = typer.Option(
        None, "--address", help="host or host:port (Modbus TCP, RTU over TCP); serial port (Modbus RTU); not for MQTT"),
    port: int | None = typer.Option(None, "--port", help="TCP port (default 502 for modbus-tcp)"),
    unit: int | None = typer.Option(None, "--unit", help="Modbus unit id (0-247 on TCP, 1-247 on a serial line)"),
    baudrate: int | None = typer.Option(None, "--baudrate", help="serial line speed (default 9600)"),
    parity: str | None = typer.Option(None, "--parity", help="serial parity N, E or O (default N)"),
    stopbits: int | None = typer.Option(None, "--stopbits", help="serial stop bits 1 or 2 (default 1)"),
    bytesize: int | None = typer.Option(None, "--bytesize", help="serial data bits 7 or 8 (default 8)"),
    client_id: str | None = typer.Option(None, "--client-id", help="MQTT client id the device uses"),
    username: str | None = typer.Option(None, "--username", help="MQTT user name of the device"),
    password: str | None = typer.Option(None, "--password", help="MQTT password of the device"),
    lat: float = typer.Option(..., "--lat", help="WGS84 latitude in degrees"),
    lon: float = typer.Option(..., "--lon", help="WGS84 longitude in degrees"),
    landmark: str | None = typer.Option(None, "--landmark", help="street address or landmark"),
    site: str | None = typer.Option(None, "--site", help="site or district"),
    area: str | None = typer.Option(None, "--area", help="its area (streetwatch area list); default: the root"),
    group: list[str] | None = typer.Option(None, "--group", help="lighting group or hazard point (repeatable)"),
    tag: list[str] | None = typer.Option(None, "--tag", help="KEY=VALUE (repeatable)"),
    threshold: list[str] | None = typer.Option(
        None, "--threshold", help="METRIC.LEVEL=VALUE, e.g. water_level_mm.red=800 (repeatable)"),
    poll_interval: float | None = typer.Option(None, "--poll-interval", help="seconds between Modbus polls (60)"),
    installed_on: str | None = typer.Option(None, "--installed-on", help="installation date YYYY-MM-DD"),
    notes: str | None = typer.Option(None, "--notes", help="free text"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Register a device.

    Example: streetwatch device add LP-BY-000123 --kind lamp_controller --profile sw-lamp-controller
    --transport modbus-tcp --address 10.20.0.15 --unit 1 --lat 23.1291 --lon 113.2644 --site Baiyun
    --group riverside-night
    """
    tags = parse_pairs(tag, "--tag", "pole=steel")
    thresholds = parse_pairs(threshold, "--threshold", "water_level_mm.red=800")
    options = {"unit": unit, "baudrate": baudrate, "parity": parity, "stopbits": stopbits, "bytesize": bytesize,
               "client_id": client_id, "username": username, "password": password, "landmark": landmark,
               "site": site, "area": area, "poll_interval_s": poll_interval, "installed_on": installed_on,
               "notes": notes}
    try:
        fields = {"id": device_id, "kind": kind, "profile": profile, "transport": transport.value,
                  "lat": repr(lat), "lon": repr(lon), "groups": ";".join(group or []),
                  "tags": ";".join(f"{k}={v}" for k, v in tags),
                  "thresholds": ";".join(f"{k}={v}" for k, v in thresholds),
                  **_address_fields(transport, address, port),
                  **{name: str(value) for name, value in options.items() if value is not None}}
        device = device_from_fields(fields)
    except InvalidDevice as exc:
        raise UserError(str(exc)) from None
    with_registry(ctx, lambda registry: registry.add(device, by=actor(by)))
    typer.echo(f"registered {device.id} ({device.kind}, {device.profile}) — status {device.status.value}; "
               f"next: streetwatch device probe {device.id} --commission")


def _when(value: datetime | None, ctx: typer.Context) -> str:
    if value is None:
        return "never"
    return value.astimezone(settings(ctx).zone).isoformat(sep=" ", timespec="seconds")


def _show_rows(device: Device) -> list[dict[str, str]]:
    fields = device_to_fields(device, secrets=False)
    return [{"field": name, "value": value} for name, value in fields.items() if value]


def show(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show a device: every field, when it was last seen and its latest readings.

    Example: streetwatch device show LP-BY-000123
    """
    source = latest_readings()

    async def go(registry: Registry) -> tuple[Device, Observed | None, dict[str, str]]:
        device = await registry.require(device_id)
        observed = await source(registry.db, device_id) if source is not None else None
        library = await registry.profiles()
        units: dict[str, str] = {}
        if device.profile in library:
            profile = library.get(device.profile)
            units = {name: profile.unit_of(name) for name in profile.metric_names()}
        return device, observed, units

    device, observed, units = with_registry(ctx, go)
    readings = [{"metric": r.metric, "value": r.value, "unit": units.get(r.metric, ""), "at": _when(r.ts, ctx)}
                for r in (observed.readings if observed else ())]
    if output is not OutputFormat.table:
        record: dict[str, Any] = {**device_to_fields(device, secrets=False),
                                  "last_seen": _when(observed.last_seen, ctx) if observed else None,
                                  "readings": readings}
        if output is OutputFormat.json:
            typer.echo(json.dumps(record, indent=2, ensure_ascii=False, default=str))
        else:
            typer.echo(render([{k: v for k, v in record.items() if k != "readings"}], output))
        return
    rows = _show_rows(device)
    rows.append({"field": "last_seen", "value": _when(observed.last_seen, ctx) if observed
                 else "unknown (no telemetry store in this command)"})
    typer.echo(render(rows, OutputFormat.table, ["field", "value"]))
    if readings:
        typer.echo("")
        typer.echo(render(readings, OutputFormat.table, ["metric", "value", "unit", "at"]))


def update(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID"),
    assignments: list[str] = typer.Option(..., "--set", help="FIELD=VALUE; fields are the CSV columns (repeatable)"),
    note: str = typer.Option("", "--note", help="why, for the history"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Change fields of a device; the history records who changed what.

    Example: streetwatch device update CG-TH-0007 --set thresholds=water_level_mm.red=750 --set site=Tianhe
    """
    changes = dict(parse_pairs(assignments, "--set", "site=Baiyun"))
    before, after = with_registry(ctx, lambda registry: _update(registry, device_id, changes, actor(by), note))
    if before == after:
        typer.echo(f"{device_id}: nothing to change")
        return
    for name, (old, new) in diff(before, after).items():
        typer.echo(f"{device_id}: {name}: {old or '(empty)'} → {new or '(empty)'}")


async def _update(registry: Registry, device_id: str, changes: dict[str, str], by: str,
                  note: str) -> tuple[Device, Device]:
    before = await registry.require(device_id)
    return before, await registry.update(device_id, changes, by=by, note=note)


def retire(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID"),
    note: str = typer.Option("", "--note", help="why, for the history"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Take a device out of service. Its id, history and readings stay.

    Example: streetwatch device retire LP-BY-000123 --note "pole knocked down, replaced by LP-BY-000990"
    """
    device = with_registry(ctx, lambda registry: registry.retire(device_id, by=actor(by), note=note))
    typer.echo(f"{device.id}: retired (its data is kept; `device update {device.id} --set status=registered` "
               "brings it back)")


def _history_row(entry: HistoryEntry, ctx: typer.Context) -> dict[str, str]:
    return {"at": _when(entry.at, ctx), "by": entry.by, "action": entry.action, "changes": entry.describe(),
            "note": entry.note}


def history(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Every change to a device: when, who, what.

    Example: streetwatch device history LP-BY-000123
    """
    entries = with_registry(ctx, lambda registry: registry.history(device_id))
    if output is OutputFormat.json:
        typer.echo(json.dumps([{"at": e.at.isoformat(), "by": e.by, "action": e.action,
                                "changes": {k: list(v) for k, v in e.changes.items()}, "note": e.note}
                               for e in entries], indent=2, ensure_ascii=False))
        return
    typer.echo(render([_history_row(e, ctx) for e in entries], output, ["at", "by", "action", "changes", "note"]))
