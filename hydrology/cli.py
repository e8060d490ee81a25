"""``streetwatch water …``: assessment sections, imported samples and the daily GB 3838-2002 report.

A thin skin over the library: parse, call, render; domain errors become one line and exit 2.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import typer

from device_registry import Registry
from hydrology.cli_context import Water, with_water
from hydrology.cli_hazard import hazard_app
from hydrology.report import daily_report
from hydrology.sample_import import read_samples
from hydrology.sections import Section
from hydrology.standard import WATER_BODIES, WaterBody, WaterClass
from streetwatch.cli_support import OutputFormat, UserError, render, settings
from streetwatch.clock import SystemClock

T = TypeVar("T")
water_app = typer.Typer(help="Water quality: assessment sections, imported samples, daily classes by GB 3838-2002.",
                        no_args_is_help=True)
section_app = typer.Typer(help="Rivers' assessment sections (a probe joins one with the tag section=ID).",
                          no_args_is_help=True)
water_app.add_typer(section_app, name="section")
water_app.add_typer(hazard_app, name="hazard")
REPORT_COLUMNS = ("section", "name", "river", "area", "class", "target", "deciding", "yesterday", "change")


def _target(text: str | None) -> WaterClass | None:
    if text is None:
        return None
    try:
        return WaterClass.parse(text)
    except ValueError as exc:
        raise UserError(f"--target: {exc}") from None


@section_app.command("add")
def section_add(
    ctx: typer.Context,
    section_id: str = typer.Argument(..., metavar="ID", help="the section's id, e.g. GZ-SJ-01"),
    name: str = typer.Option(..., "--name", help="its name, e.g. 'Shijing bridge'"),
    river: str = typer.Option(..., "--river", help="the river (or lake) it is on"),
    area: str = typer.Option("", "--area", help="the district it reports to"),
    water_body: str = typer.Option("river", "--water-body", help="river, or lake (lakes and reservoirs)"),
    target: str | None = typer.Option(None, "--target", help="its target class, I..V"),
) -> None:
    """Add an assessment section.

    Example: streetwatch water section add GZ-SJ-01 --name 'Shijing bridge' --river Shijing --target IV
    """
    if water_body not in WATER_BODIES:
        raise UserError(f"--water-body: {water_body!r}; one of {', '.join(WATER_BODIES)}")
    body: WaterBody = "lake" if water_body == "lake" else "river"

    async def go(water: Water) -> None:
        section = Section(section_id, name, river, area, body, _target(target))
        await water.sections.add(section, now=SystemClock().now())

    with_water(ctx, go)
    typer.echo(f"section {section_id} added")


@section_app.command("list")
def section_list(
    ctx: typer.Context,
    area: str | None = typer.Option(None, "--area", help="only sections of this area"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List the sections.

    Example: streetwatch water section list --area Baiyun
    """
    async def go(water: Water) -> list[Section]:
        return await water.sections.list(area=area)

    rows = [{"section": s.id, "name": s.name, "river": s.river, "area": s.area, "water_body": s.water_body,
             "target": None if s.target is None else s.target.label} for s in with_water(ctx, go)]
    typer.echo(render(rows, output, ["section", "name", "river", "area", "water_body", "target"]))


@water_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="CSV: section, sampled_at, then one column per parameter"),
) -> None:
    """Import assessment-section samples from CSV; good rows are stored, each bad one is named.

    Example: streetwatch water import provincial-2026-12-05.csv
    """
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: cannot read: {exc}") from None

    async def go(water: Water) -> tuple[int, int, int, list[str]]:
        found = read_samples(text, str(file), known_sections=await water.sections.ids(), zone=water.settings.zone)
        stored = await water.sections.put_samples(found.samples, source=file.name) if found.samples else 0
        return stored, found.rows - found.refused_rows, found.refused_rows, found.problems

    stored, rows, refused, problems = with_water(ctx, go)
    for problem in problems:
        print(problem, file=sys.stderr)
    typer.echo(f"{file}: {rows} row(s) imported ({stored} value(s)); {refused} row(s) refused")
    if problems:
        raise typer.Exit(2)


@water_app.command("report")
def report_command(
    ctx: typer.Context,
    day: str | None = typer.Option(None, "--date", help="the day (YYYY-MM-DD, local time; default yesterday)"),
    area: str | None = typer.Option(None, "--area", help="only sections of this area"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Every section's class on a day, its target, the deciding parameters and the change since the day before.

    Example: streetwatch water report --date 2026-12-05 --area Baiyun --format csv
    """
    current = settings(ctx)
    if day is None:
        chosen = (datetime.now(current.zone) - timedelta(days=1)).date()
    else:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise UserError(f"--date: {day!r} is not a date (YYYY-MM-DD)") from None

    async def go(water: Water) -> list[dict[str, object]]:
        registry = Registry(water.db, profiles_dir=current.profiles_dir)
        await registry.migrate()
        async with water.store() as store:
            days = await daily_report(water.sections, registry, store, chosen, current.zone, area=area)
        return [d.row() for d in days]

    rows = with_water(ctx, go)
    if output is OutputFormat.json:
        typer.echo(render(rows, output))
        return
    typer.echo(render([{**r, "class": r["class"] or "(no data)"} for r in rows], output, REPORT_COLUMNS))
