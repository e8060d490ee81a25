"""``streetwatch schedule …``: lighting schedules, which groups and sites follow them, a day's preview."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from control.assignments import ScopeKind
from control.cli_context import BY_HELP, Control, with_control
from control.errors import ControlError, ScheduleError
from control.library import ScheduleLibrary
from control.model import CommandTarget
from control.schedule import Schedule, StepSpec, check_schedule, read_schedule_data
from control.timeline import Place, day_start, timeline
from streetwatch.cli_support import OutputFormat, UserError, actor, render, settings

schedule_app = typer.Typer(help="Lighting schedules: list, show, validate, assign, preview.", no_args_is_help=True)


def _library(ctx: typer.Context) -> ScheduleLibrary:
    try:
        return ScheduleLibrary.load(settings(ctx).schedules_dir)
    except ScheduleError as exc:
        raise UserError(str(exc)) from None


def _steps(steps: tuple[StepSpec, ...]) -> str:
    return " → ".join(f"{step.at} {step.dim}%" for step in steps)


def _scope(group: str | None, site: str | None) -> tuple[ScopeKind, str]:
    if group is not None and site is None:
        return "group", group
    if site is not None and group is None:
        return "site", site
    raise UserError("give --group NAME or --site NAME, one of them")


def _schedule(ctx: typer.Context, name: str) -> Schedule:
    try:
        return _library(ctx).get(name)
    except ControlError as exc:
        raise UserError(str(exc)) from None


@schedule_app.command("list")
def list_schedules(ctx: typer.Context,
                   output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
                   ) -> None:
    """List the schedules, their steps, and the groups and sites that follow them.

    Example: streetwatch schedule list
    """
    library = _library(ctx)
    assignments = with_control(ctx, lambda control: control.assignments.all())
    rows = [{"name": s.name, "steps": _steps(s.steps), "exceptions": len(s.exceptions),
             "followed_by": " ".join(a.scope for a in assignments if a.schedule == s.name),
             "description": s.description} for s in (library.get(name) for name in library.names())]
    typer.echo(render(rows, output, ["name", "steps", "exceptions", "followed_by", "description"]))
    if library.problems:
        typer.echo(f"{len(library.problems)} schedule file(s) have problems: run 'streetwatch schedule validate'",
                   err=True)


@schedule_app.command("show")
def show_schedule(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Show a schedule: its file, steps, date exceptions, and who follows it.

    Example: streetwatch schedule show night
    """
    library = _library(ctx)
    schedule = _schedule(ctx, name)
    assignments = with_control(ctx, lambda control: control.assignments.all())
    starts = "solar noon at each lamp" if schedule.day_starts is None else schedule.day_starts.strftime("%H:%M")
    lines = [f"schedule {schedule.name} ({library.files[schedule.name]})", f"  {schedule.description}".rstrip(),
             f"  the lighting day starts at {starts}", "  steps:"]
    lines += [f"    from {step.at}: {step.dim} %" for step in schedule.steps]
    for exception in schedule.exceptions:
        lines.append(f"  on {', '.join(str(d) for d in exception.dates)} ({exception.name or 'exception'}):")
        lines += [f"    from {step.at}: {step.dim} %" for step in exception.steps]
    followed = [f"{a.scope} (since {a.assigned_at:%Y-%m-%d}, by {a.assigned_by})" for a in assignments
                if a.schedule == schedule.name]
    lines.append("  followed by: " + (", ".join(followed) or "nobody yet (streetwatch schedule assign)"))
    typer.echo("\n".join(line for line in lines if line.strip()))


@schedule_app.command("validate")
def validate(ctx: typer.Context,
             files: list[Path] | None = typer.Argument(None, metavar="[FILE...]",
                                                       help="schedule files (default: every schedule in use)"),
             ) -> None:
    """Check schedule files and report every problem with its place; exit 1 if there is one.

    Example: streetwatch schedule validate schedules/festival.yaml
    """
    problems: dict[str, list[str]] = {}
    good: list[str] = []
    if files:
        for path in files:
            try:
                schedule, found = check_schedule(read_schedule_data(path), default_name=path.stem)
            except ScheduleError as exc:
                schedule, found = None, exc.problems
            if schedule is None:
                problems[str(path)] = found
            else:
                good.append(f"{path}: ok ({schedule.name}, {len(schedule.steps)} steps)")
    else:
        library = _library(ctx)
        problems = library.problems
        good = [f"{library.files[name]}: ok ({name})" for name in library.names()]
    for line in good:
        typer.echo(line)
    for source, found in problems.items():
        for problem in found:
            typer.echo(f"{source}: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


@schedule_app.command("assign")
def assign(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"),
           group: str | None = typer.Option(None, "--group", help="the group to follow it"),
           site: str | None = typer.Option(None, "--site", help="the site to follow it"),
           by: str | None = typer.Option(None, "--by", help=BY_HELP)) -> None:
    """Make a group or a site follow a schedule (a group's schedule wins over its site's).

    Example: streetwatch schedule assign night --group riverside-night
    """
    kind, value = _scope(group, site)
    _schedule(ctx, name)

    async def go(control: Control) -> int:
        try:
            devices = await control.directory.resolve(CommandTarget(kind, value))
        except ControlError:
            devices = []
        await control.assignments.assign(kind, value, name, by=actor(by))
        return len(devices)

    count = with_control(ctx, go)
    note = "" if count else " (it has no devices yet)"
    typer.echo(f"{kind}:{value} follows schedule {name}{note}; {count} device(s); the running gateway applies it "
               f"within a minute")


@schedule_app.command("unassign")
def unassign(ctx: typer.Context, group: str | None = typer.Option(None, "--group"),
             site: str | None = typer.Option(None, "--site")) -> None:
    """Stop a group or a site following its schedule (its lamps keep their last level).

    Example: streetwatch schedule unassign --site Baiyun
    """
    kind, value = _scope(group, site)
    removed = with_control(ctx, lambda control: control.assignments.unassign(kind, value))
    if not removed:
        raise UserError(f"{kind}:{value} follows no schedule")
    typer.echo(f"{kind}:{value} follows no schedule now")


def _parse_at(text: str) -> tuple[float, float]:
    try:
        latitude_text, longitude_text = text.split(",")
        latitude, longitude = float(latitude_text), float(longitude_text)
    except ValueError:
        raise UserError(f"--at: {text!r} is not LAT,LON in degrees (e.g. --at 23.13,113.26)") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise UserError(f"--at: {text!r} is outside -90..90, -180..180")
    return latitude, longitude


def _preview_rows(schedule: Schedule, day: date, place: Place, fmt: OutputFormat) -> list[dict[str, Any]]:
    rows = []
    for step in timeline(schedule, day, place.latitude, place.longitude, place.zone):
        local = step.local(place.zone)
        shown = local.strftime("%Y-%m-%d %H:%M:%S %Z") if fmt is OutputFormat.table else local.isoformat()
        rows.append({"time": shown, "dim_pct": step.dim_pct, "step": step.source, "note": step.note})
    return rows


@schedule_app.command("preview")
def preview(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"),
            day: datetime | None = typer.Option(None, "--date", formats=["%Y-%m-%d"],
                                                help="the lighting day (default: today)"),
            at: str = typer.Option(..., "--at", metavar="LAT,LON", help="where, in degrees: 23.13,113.26"),
            zone_name: str | None = typer.Option(None, "--zone", help="IANA time zone (default: the configured one)"),
            output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv")) -> None:
    """Print a day's timeline of a schedule at a place, with the computed times.

    Example: streetwatch schedule preview night --date 2026-12-21 --at 45.80,126.53
    """
    schedule = _schedule(ctx, name)
    latitude, longitude = _parse_at(at)
    try:
        zone = zoneinfo.ZoneInfo(zone_name) if zone_name else settings(ctx).zone
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(f"--zone: unknown time zone {zone_name!r} (use an IANA name such as Asia/Shanghai)") from None
    place = Place(latitude, longitude, zone)
    lighting = day.date() if day is not None else datetime.now(zone).date()
    rows = _preview_rows(schedule, lighting, place, output)
    if output is OutputFormat.table:
        start = day_start(schedule, lighting, place).astimezone(zone)
        typer.echo(f"schedule {schedule.name} at {latitude:.4f}, {longitude:.4f} ({zone.key}): the lighting day of "
                   f"{lighting} starts at {start:%H:%M:%S}"
                   f"{' (solar noon)' if schedule.day_starts is None else ''}")
    typer.echo(render(rows, output, ["time", "dim_pct", "step", "note"]))
