"""``streetwatch area add | list | show | move``: the hierarchy of districts, streets and communities."""

from __future__ import annotations

import typer

from people.areas import Area
from people.cli_common import audited, with_people
from people.directory import People
from people.schema import ROOT_AREA
from streetwatch.cli_support import OutputFormat, render

area_app = typer.Typer(help="Areas: district → street/town → community, any depth.", no_args_is_help=True)
_COLUMNS = ["id", "name", "level", "parent", "timezone", "path"]


def _row(area: Area) -> dict[str, object]:
    return {"id": area.id, "name": area.name, "level": area.level, "parent": area.parent or "",
            "timezone": area.timezone or "(inherited)", "path": area.path}


@area_app.command("add")
def add(
    ctx: typer.Context,
    area_id: str = typer.Argument(..., metavar="ID", help="stable id: lower-case letters, digits, '_' and '-'"),
    name: str = typer.Option(..., "--name", help="the name people use"),
    level: str = typer.Option(..., "--level", help="district, street, community, …"),
    parent: str = typer.Option(ROOT_AREA, "--parent", help="the area above (default: the root)"),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone (default: the parent's)"),
) -> None:
    """Add an area under another.

    Example: streetwatch area add jingtai --name "Jingtai Street" --level street --parent baiyun
    """
    async def go(people: People) -> Area:
        return await audited(people, "area.add", area_id,
                             people.areas.add(area_id, name, parent=parent, level=level, timezone=timezone),
                             area=parent, detail={"name": name, "level": level})

    area = with_people(ctx, go)
    typer.echo(f"added area {area.id} ({area.path})")


@area_app.command("list")
def list_command(
    ctx: typer.Context,
    under: str | None = typer.Option(None, "--under", help="only this area and the areas under it"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List areas, parents before children.

    Example: streetwatch area list --under baiyun
    """
    areas = with_people(ctx, lambda people: people.areas.list(under))
    typer.echo(render([_row(a) for a in areas], output, _COLUMNS))


@area_app.command("show")
def show(
    ctx: typer.Context,
    area_id: str = typer.Argument(..., metavar="ID"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show an area, its effective time zone and the areas directly under it.

    Example: streetwatch area show baiyun
    """
    async def go(people: People) -> tuple[Area, list[Area]]:
        area = await people.areas.require(area_id)
        return area, [a for a in await people.areas.list(area_id) if a.parent == area_id]

    area, children = with_people(ctx, go)
    typer.echo(render([_row(area)], output, _COLUMNS))
    if output is OutputFormat.table:
        typer.echo(f"\nsub-areas: {', '.join(c.id for c in children) or '(none)'}")


@area_app.command("move")
def move(
    ctx: typer.Context,
    area_id: str = typer.Argument(..., metavar="ID"),
    parent: str = typer.Option(..., "--parent", help="the new area above"),
) -> None:
    """Move an area, with everything under it, below another area.

    Example: streetwatch area move jingtai --parent yuexiu
    """
    area = with_people(ctx, lambda people: audited(people, "area.move", area_id, people.areas.move(area_id, parent),
                                                   area=parent, detail={"parent": parent}))
    typer.echo(f"moved area {area.id} to {area.path}")
