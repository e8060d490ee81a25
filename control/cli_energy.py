"""``streetwatch energy report``: daily energy per lamp, group or site, and the saving against full power."""

from __future__ import annotations

from datetime import datetime

import typer

from control.assignments import schedule_for
from control.cli_context import TARGET_HELP, Control, parse_target, with_control
from control.energy_report import lamp_days, summarise
from control.errors import ControlError
from control.schedule import Schedule
from device_registry import Device
from streetwatch.cli_support import OutputFormat, UserError, render
from telemetry_store import StoreError, open_store

energy_app = typer.Typer(help="Energy used by lamps, from their energy counters.", no_args_is_help=True)


@energy_app.command("report")
def report(ctx: typer.Context,
           target: str | None = typer.Argument(None, metavar="[TARGET]", help=TARGET_HELP),
           site: str | None = typer.Option(None, "--site", help="the lamps of a site (instead of TARGET)"),
           first: datetime = typer.Option(..., "--from", formats=["%Y-%m-%d"], help="first day, local"),
           last: datetime = typer.Option(..., "--to", formats=["%Y-%m-%d"], help="last day, local, included"),
           by: str = typer.Option("site", "--by", help="lamp, group or site"),
           output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv")) -> None:
    """Daily energy (kWh) and the saving against running at full power whenever the schedule has lamps on.

    Example: streetwatch energy report --site Baiyun --from 2026-12-01 --to 2026-12-07 --by group
    """
    if by not in ("lamp", "group", "site"):
        raise UserError(f"--by: {by!r} is not lamp, group or site")
    if last < first:
        raise UserError("--to: the last day is before the first (--from)")
    if (last - first).days > 366:
        raise UserError("--from/--to: at most a year at a time")
    chosen = parse_target(target if site is None else None, None) if site is None else parse_target(f"site:{site}",
                                                                                                    None)
    if site is not None and target is not None:
        raise UserError("give a TARGET or --site, not both")

    async def go(control: Control) -> list[dict[str, object]]:
        devices = [d for d in await control.directory.resolve(chosen) if d.kind == "lamp_controller"]
        if not devices:
            raise UserError(f"{chosen} has no lamp controllers")
        assignments = await control.assignments.all()
        library = control.schedules()

        def schedule_of(device: Device) -> Schedule | None:
            assignment = schedule_for(device, assignments)
            try:
                return library.get(assignment.schedule) if assignment is not None else None
            except ControlError:
                return None

        try:
            async with open_store(control.settings.database, control.settings.store) as store:
                rows = await lamp_days(store, devices, first.date(), last.date(), control.settings.zone,
                                       schedule_of=schedule_of,
                                       default_rated_power_w=control.settings.control.rated_power_w)
        except StoreError as exc:
            raise UserError(f"telemetry store: {exc}") from None
        return summarise(rows, by)  # type: ignore[arg-type]

    rows = with_control(ctx, go)
    typer.echo(render(rows, output, [by, "day", "lamps", "kwh", "full_power_kwh", "saved_kwh", "saved_pct",
                                     "resets", "rejected"]))
