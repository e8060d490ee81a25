"""``streetwatch readings …`` and ``streetwatch db retention``: the store without SQL.

A thin skin over the library: parse, call, render. Times are shown in the configured time zone,
units beside values. Site and kind filters, and units from device profiles, come from the device
registry, which the gateway plugs in with :func:`configure` (this package does not import it).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer

from streetwatch.cli_support import OutputFormat, UserError, render, run, settings
from streetwatch.config import Settings
from streetwatch.figures import show, tidy
from telemetry_store.errors import StoreError
from telemetry_store.model import Bucket, FlaggedReading, LatestValue
from telemetry_store.opening import open_store
from telemetry_store.timeparse import parse_duration, parse_time, unit_from_metric

DeviceFilter = Callable[[Settings, str | None, str | None], Awaitable[list[str]]]
"""(settings, site, kind) → the ids of the devices at that site and/or of that kind."""
T = TypeVar("T")
UnitFor = Callable[[str, str], str | None]
"""(device_id, metric) → the unit to show beside its values."""


@dataclass
class ReadingsCliHooks:
    device_filter: DeviceFilter | None = None
    unit_for: UnitFor = lambda _device, metric: unit_from_metric(metric)


hooks = ReadingsCliHooks()


def configure(*, device_filter: DeviceFilter | None = None, unit_for: UnitFor | None = None) -> None:
    """Plug in what the device registry knows: ``--site``/``--kind`` filtering and profile units."""
    if device_filter is not None:
        hooks.device_filter = device_filter
    if unit_for is not None:
        hooks.unit_for = unit_for


readings_app = typer.Typer(help="Read stored readings: latest values and history.", no_args_is_help=True)


def _shown(ts: datetime, zone: zoneinfo.ZoneInfo, fmt: OutputFormat) -> str:
    local = ts.astimezone(zone)
    return local.isoformat(sep=" ", timespec="seconds") if fmt is OutputFormat.table else local.isoformat()


def _number(value: float, fmt: OutputFormat) -> Any:
    return tidy(value) if fmt is not OutputFormat.table else show(value)


@readings_app.command("latest")
def latest_command(
    ctx: typer.Context,
    device: list[str] = typer.Option([], "--device", "-d", help="only this device (repeatable)"),
    site: str | None = typer.Option(None, "--site", help="only devices at this site"),
    kind: str | None = typer.Option(None, "--kind", help="only devices of this kind, e.g. culvert_gauge"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show the newest value of every metric of every device (or of the devices asked for).

    Example: streetwatch readings latest --device gauge-0007 --format json
    """
    current = settings(ctx)

    async def go() -> list[LatestValue]:
        ids: list[str] | None = list(device) or None
        if site is not None or kind is not None:
            if hooks.device_filter is None:
                raise UserError("--site and --kind need the device registry, which is not available here;"
                                " use --device ID")
            chosen = await hooks.device_filter(current, site, kind)
            ids = [d for d in chosen if ids is None or d in ids]
        async with open_store(current.database, current.store) as store:
            return await store.latest(ids)

    values = _call(go())
    zone = current.zone
    rows = [{"device": v.device_id, "metric": v.metric, "value": _number(v.value, output),
             "unit": hooks.unit_for(v.device_id, v.metric) or "", "time": _shown(v.ts, zone, output)}
            for v in values]
    typer.echo(render(rows, output, ["device", "metric", "value", "unit", "time"]))


@readings_app.command("history")
def history_command(
    ctx: typer.Context,
    *,
    device: str = typer.Argument(..., help="device id"),
    metric: str = typer.Argument(..., help="metric, e.g. water_level_mm"),
    start: str = typer.Option("-24h", "--from", help="ISO-8601 (local time unless it has an offset), now, -2h"),
    end: str = typer.Option("now", "--to", help="same forms as --from"),
    bucket: str | None = typer.Option(None, "--bucket", help="summarise per interval: 5m, 1h, 1d…"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show one metric of one device over a time range, raw or summarised per bucket.

    Example: streetwatch readings history gauge-0007 water_level_mm --from -6h --bucket 15m --format csv
    """
    current = settings(ctx)
    zone, now = current.zone, datetime.now(UTC)
    try:
        lo, hi = parse_time(start, now, zone), parse_time(end, now, zone)
        width = parse_duration(bucket) if bucket is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if hi <= lo:
        raise UserError(f"--to ({end}) must be after --from ({start})")
    unit = hooks.unit_for(device, metric) or ""

    async def go() -> list[dict[str, Any]]:
        async with open_store(current.database, current.store) as store:
            if width is None:
                found = await store.history(device, metric, lo, hi)
                flags = {f.ts: ",".join(f.flags) for f in await store.flagged(lo, hi, device_id=device, metric=metric,
                                                                               limit=len(found) + 1)}
                return [{"time": _shown(r.ts, zone, output), "value": _number(r.value, output), "unit": unit,
                         "flags": flags.get(r.ts, "")} for r in found]
            return [_bucket_row(b, zone, output, unit)
                    for b in await store.buckets(device, metric, lo, hi, width)]

    rows = _call(go())
    columns = ["time", "value", "unit", "flags"] if width is None else ["bucket", "min", "max", "avg", "count", "unit"]
    typer.echo(render(rows, output, columns))


@readings_app.command("flagged")
def flagged_command(
    ctx: typer.Context,
    *,
    device: str | None = typer.Option(None, "--device", "-d", help="only this device"),
    metric: str | None = typer.Option(None, "--metric", help="only this metric"),
    start: str = typer.Option("-24h", "--from", help="ISO-8601 (local time unless it has an offset), now, -2h"),
    end: str = typer.Option("now", "--to", help="same forms as --from"),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="at most this many, oldest first"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show the readings the quality rules flagged (spike, gradient, stuck, below_floor, low_battery, low_signal).

    Example: streetwatch readings flagged --device gauge-0007 --from -6h --format csv
    """
    current = settings(ctx)
    zone, now = current.zone, datetime.now(UTC)
    try:
        lo, hi = parse_time(start, now, zone), parse_time(end, now, zone)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if hi <= lo:
        raise UserError(f"--to ({end}) must be after --from ({start})")

    async def go() -> list[FlaggedReading]:
        async with open_store(current.database, current.store) as store:
            return await store.flagged(lo, hi, device_id=device, metric=metric, limit=limit)

    rows = [{"time": _shown(f.ts, zone, output), "device": f.device_id, "metric": f.metric,
             "value": _number(f.value, output), "unit": hooks.unit_for(f.device_id, f.metric) or "",
             "flags": ",".join(f.flags), "rule": f.rule} for f in _call(go())]
    typer.echo(render(rows, output, ["time", "device", "metric", "value", "unit", "flags", "rule"]))


def _bucket_row(b: Bucket, zone: zoneinfo.ZoneInfo, fmt: OutputFormat, unit: str) -> dict[str, Any]:
    return {"bucket": _shown(b.start, zone, fmt), "min": _number(b.min, fmt), "max": _number(b.max, fmt),
            "avg": _number(b.avg, fmt), "count": b.count, "unit": unit}


def retention_command(
    ctx: typer.Context,
    apply: bool = typer.Option(False, "--apply", help="drop the data now (default: only show what would go)"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show the retention of raw readings and rollups, and what is past it; --apply drops it.

    Example: streetwatch db retention --apply
    """
    current = settings(ctx)

    async def go() -> Sequence[Any]:
        async with open_store(current.database, current.store) as store:
            now = datetime.now(UTC)
            return await (store.apply_retention(now) if apply else store.retention_plan(now))

    steps = _call(go())
    verb = "dropped" if apply else "to drop"
    rows = [{"resolution": s.resolution.value, "table": s.table,
             "keep": "forever" if s.keep is None else f"{s.keep.days} days",
             "cutoff": "" if s.cutoff is None else _shown(s.cutoff, current.zone, output),
             verb: f"{s.drop_count} {s.drop_unit}"} for s in steps]
    typer.echo(render(rows, output, ["resolution", "table", "keep", "cutoff", verb]))


def _call(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return run(coro)
    except StoreError as exc:
        raise UserError(str(exc)) from None
