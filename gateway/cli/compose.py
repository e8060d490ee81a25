"""Commands and hooks that need several packages at once, so they live where packages are composed.

- ``streetwatch device probe``: the registry's devices read with the drivers;
- ``readings latest --site/--kind`` and units beside values: the store's CLI asks the registry;
- ``device show``'s last-seen time and latest readings: the registry's CLI asks the store.
"""

from __future__ import annotations

import functools

import typer

from device_drivers.modbus import BusPool, BusSettings
from device_registry import Registry, open_registry
from device_registry.cli_common import BY_HELP, with_registry
from device_registry.device import DeviceStatus
from device_registry.observed import Observed, set_latest_readings
from device_registry.profile import shipped_profiles
from device_registry.query import DeviceFilter
from gateway.poller.probe import ProbeFailed, ProbeRefused, ProbeResult, probe_modbus, probe_mqtt
from streetwatch.cli_support import CliState, OutputFormat, actor, error_line, render, settings
from streetwatch.config import Settings
from streetwatch.database import Database
from streetwatch.figures import show, tidy
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading
from telemetry_store import cli as readings_cli
from telemetry_store import open_store


def probe(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., help="the registered device to read"),
    commission: bool = typer.Option(False, "--commission", help="mark it commissioned when every value is plausible"),
    timeout_s: float | None = typer.Option(None, "--timeout", min=0.1,
                                           help="seconds to wait: default 3 for Modbus, 60 for MQTT"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Read every metric of a device once, with its profile, and flag implausible values.

    Modbus devices are read now; an MQTT device's next telemetry message is awaited on the broker.
    Exits 1 with the reason in plain words when the device cannot be read or a value is implausible;
    2 when the broker refuses the login of mqtt_url.

    Example: streetwatch device probe LP-BY-000123 --commission
    """
    current = settings(ctx)

    async def go(registry: Registry) -> ProbeResult:
        device = await registry.require(device_id)
        profile = (await registry.profiles()).get(device.profile)
        if device.transport.is_modbus:
            # This command's own pool: the one owner of the buses in this process.
            async with BusPool(BusSettings(timeout_s=timeout_s or 3.0)) as buses:
                result = await probe_modbus(device, profile, buses)
        else:
            result = await probe_mqtt(device, profile, MqttTransport.from_settings(current),
                                      timeout_s=timeout_s or 60.0)
        if commission and result.healthy and device.status is DeviceStatus.registered:
            await registry.set_status(device_id, DeviceStatus.commissioned, by=actor(by), note="device probe")
        return result

    try:
        result = with_registry(ctx, go)
    except ProbeFailed as exc:
        error_line(f"probe {device_id}: {exc}")
        raise typer.Exit(2 if isinstance(exc, ProbeRefused) else 1) from None
    number = show if output is OutputFormat.table else tidy  # JSON and CSV carry numbers, tables text
    rows: list[dict[str, object]] = [{"metric": v.metric, "value": number(v.value),
             "unit": v.unit,
             "plausible": _range(v.low, v.high), "check": "ok" if v.plausible else "IMPLAUSIBLE",
             "flags": ",".join(v.flags)} for v in sorted(result.values, key=lambda v: v.metric)]
    rows += [{"metric": metric, "value": None, "unit": "", "plausible": "", "check": f"NO VALUE: {why}", "flags": ""}
             for metric, why in sorted(result.problems.items())]
    typer.echo(render(rows, output, ["metric", "value", "unit", "plausible", "check", "flags"]))
    for name, text in sorted(result.texts.items()):
        typer.echo(f"{name}: {text}")
    for block, why in sorted(result.refused.items()):
        typer.echo(f"refused {block}: {why}")
    if not result.healthy:
        what = f"{len(result.implausible)} implausible value(s), {len(result.problems)} metric(s) without a value"
        if result.refused:
            what += f", {len(result.refused)} register block(s) refused by the device"
        error_line(f"probe {device_id}: {what}" + ("; not commissioned" if commission else ""))
        raise typer.Exit(1)
    if commission:
        typer.echo(f"{device_id}: every metric read and plausible; status is commissioned")


def _range(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    return f"{show(low)}..{show(high)}"


async def _devices_at(current: Settings, site: str | None, kind: str | None) -> list[str]:
    async with open_registry(current.database, profiles_dir=current.profiles_dir) as registry:
        return [d.id for d in await registry.list(DeviceFilter(site=site, kind=kind))]


@functools.cache
def _units() -> dict[str, str]:
    units: dict[str, str] = {}
    for profile in shipped_profiles().values():
        for metric in profile.iter_metrics():
            if metric.unit:
                units.setdefault(metric.name, metric.unit)
    return units


def _unit_for(_device_id: str, metric: str) -> str | None:
    return _units().get(metric)


_invocation = CliState()


async def _observed(db: Database, device_id: str) -> Observed:
    current = _invocation.settings
    async with open_store(current.database, current.store) as store:
        latest = await store.latest([device_id])
    readings = tuple(Reading(v.device_id, v.metric, v.ts, v.value) for v in latest)
    return Observed(last_seen=max((r.ts for r in readings), default=None), readings=readings)


def wire() -> None:
    """Give the packages' commands what they need from each other (once, when the CLI is built)."""
    readings_cli.configure(device_filter=_devices_at, unit_for=_unit_for)
    set_latest_readings(_observed)


def begin(state: CliState) -> None:
    """This invocation's settings, for the hooks that are not handed them."""
    global _invocation
    _invocation = state
