"""``streetwatch water hazard …``: hazard points, their state now, and their levels on their gauges."""

from __future__ import annotations

import typer

from hydrology.cli_context import Water, registry_of, with_water
from hydrology.hazards import HAZARD_KINDS, LEVEL_METRIC, HazardKind, HazardPoint, HazardStore, apply_levels, gauges_of
from streetwatch.cli_support import OutputFormat, UserError, actor, render
from streetwatch.clock import SystemClock

hazard_app = typer.Typer(help="Hazard points: culverts, underpasses, low roads (a gauge joins one with the tag "
                              "hazard=ID).", no_args_is_help=True)
LIST_COLUMNS = ("hazard", "name", "landmark", "kind", "gauges", "depth_mm", "level", "passable", "no_pass_mm",
                "surface_m")


@hazard_app.command("add")
def hazard_add(
    ctx: typer.Context,
    point_id: str = typer.Argument(..., metavar="ID", help="the hazard point's id, e.g. XJH-UP"),
    name: str = typer.Option(..., "--name", help="its name, e.g. 'Xujiahui underpass'"),
    kind: str = typer.Option(..., "--kind", help="culvert, underpass or low_road"),
    no_pass: float = typer.Option(..., "--no-pass-depth", help="mm of water at which cars must not pass"),
    datum: float | None = typer.Option(None, "--datum", help="the elevation of its floor, m"),
    blue: float | None = typer.Option(None, "--blue", help="depth (mm) of the blue level"),
    yellow: float | None = typer.Option(None, "--yellow", help="depth (mm) of the yellow level"),
    orange: float | None = typer.Option(None, "--orange", help="depth (mm) of the orange level"),
    red: float | None = typer.Option(None, "--red", help="depth (mm) of the red level"),
    landmark: str = typer.Option("", "--landmark", help="where it is, as alerts say it, e.g. 'Zhaojiabang Rd "
                                                        "at Tianyaoqiao Rd'"),
) -> None:
    """Add a hazard point with its own levels.

    Example: streetwatch water hazard add XJH-UP --name Xujiahui --kind underpass --no-pass-depth 300 --red 400
    """
    if kind not in HAZARD_KINDS:
        raise UserError(f"--kind: {kind!r}; one of {', '.join(HAZARD_KINDS)}")
    chosen: HazardKind = "culvert" if kind == "culvert" else "underpass" if kind == "underpass" else "low_road"
    levels = {n: v for n, v in (("blue", blue), ("yellow", yellow), ("orange", orange), ("red", red)) if v is not None}

    async def go(water: Water) -> None:
        point = HazardPoint(point_id, name, chosen, datum, no_pass, levels, landmark)
        await HazardStore(water.db).add(point, now=SystemClock().now())

    with_water(ctx, go)
    typer.echo(f"hazard point {point_id} added")


@hazard_app.command("list")
def hazard_list(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Every hazard point now: its deepest gauge's latest depth, the level reached, whether cars may pass.

    Example: streetwatch water hazard list --format json
    """
    async def go(water: Water) -> list[dict[str, object]]:
        points = await HazardStore(water.db).list()
        gauges = await gauges_of(await registry_of(water), [p.id for p in points])
        async with water.store() as store:
            ids = [d.id for devices in gauges.values() for d in devices]
            latest = {v.device_id: v.value for v in await store.latest(ids) if v.metric == LEVEL_METRIC}
        rows: list[dict[str, object]] = []
        for point in points:
            members = [d.id for d in gauges[point.id]]
            state = point.state({g: latest[g] for g in members if g in latest})
            rows.append({"hazard": point.id, "name": point.name, "landmark": point.landmark, "kind": point.kind,
                         "gauges": " ".join(members),
                         "depth_mm": state.depth_mm, "level": state.level, "passable": state.passable,
                         "no_pass_mm": point.no_pass_mm,
                         "surface_m": None if state.surface_m is None else round(state.surface_m, 3)})
        return rows

    typer.echo(render(with_water(ctx, go), output, LIST_COLUMNS))


@hazard_app.command("apply")
def hazard_apply(
    ctx: typer.Context,
    point_id: str = typer.Argument(..., metavar="ID"),
    by: str | None = typer.Option(None, "--by", help="who asks, for the devices' history (default: your OS user)"),
) -> None:
    """Give the point's gauges its levels as their water_level_mm thresholds (recorded in each device's history).

    Example: streetwatch water hazard apply XJH-UP
    """
    async def go(water: Water) -> tuple[list[str], int]:
        point = await HazardStore(water.db).require(point_id)
        registry = await registry_of(water)
        gauges = (await gauges_of(registry, [point.id]))[point.id]
        if not gauges:
            raise UserError(f"hazard point {point_id} has no gauge (tag one: device update ID --set "
                            f"tags=hazard={point_id})")
        return await apply_levels(registry, point, gauges, by=actor(by)), len(gauges)

    changed, total = with_water(ctx, go)
    typer.echo(f"hazard point {point_id}: levels set on {len(changed)} of {total} gauge(s)"
               + (f" ({', '.join(changed)})" if changed else ""))
