"""``streetwatch profile list | show | validate | add``: device knowledge as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from device_registry.cli_common import BY_HELP, with_registry
from device_registry.errors import ProfileRejected
from device_registry.library import ProfileEntry, ProfileLibrary, check_profile_text, profile_format
from device_registry.profile import ModbusMetric, Profile
from device_registry.registry import Registry
from streetwatch.cli_support import OutputFormat, UserError, actor, render


async def _libraries(registry: Registry) -> ProfileLibrary:
    return await registry.profiles()


def list_command(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List every profile: shipped, from profiles_dir, and added to the database.

    Example: streetwatch profile list
    """
    library = with_registry(ctx, _libraries)
    rows = []
    for entry in library.entries():
        profile = entry.profile
        rows.append({
            "name": entry.name, "kind": profile.kind if profile else "",
            "transport": profile.transport if profile else "",
            "metrics": len(profile.metric_names()) if profile else "", "source": entry.source,
            "state": "ok" if profile else f"invalid: {len(entry.problems)} problem(s)",
            "description": profile.description if profile else "; ".join(entry.problems),
        })
    typer.echo(render(rows, output, ["name", "kind", "transport", "metrics", "source", "state", "description"]))
    for entry in library.broken():
        typer.echo(f"warning: {entry.origin}: {'; '.join(entry.problems)}", err=True)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _metric_rows(profile: Profile) -> list[dict[str, Any]]:
    rows = []
    for metric in profile.iter_metrics():
        if isinstance(metric, ModbusMetric):
            where = f"{metric.table.value} {metric.address}"
            kind = metric.type.value + (" (writable)" if metric.writable else "")
        else:
            where = getattr(metric, "json_path", None) or f"= {getattr(metric, 'expression', '')}"
            kind = "json" if hasattr(metric, "json_path") else "derived"
        scale = getattr(metric, "scale", 1.0)
        rows.append({"metric": metric.name, "source": where, "type": kind, "scale": "" if scale == 1.0 else _num(scale),
                     "unit": metric.unit, "min": _num(metric.min), "max": _num(metric.max)})
    return rows


def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show a profile: what it is for, each metric with its registers or JSON path and unit, its commands.

    Example: streetwatch profile show sw-culvert-gauge-modbus
    """
    async def go(registry: Registry) -> tuple[ProfileEntry, Profile]:
        library = await registry.profiles()
        profile = library.get(name)  # the unknown or broken profile's error, named
        entry = library.entry(name)
        assert entry is not None
        return entry, profile

    entry, profile = with_registry(ctx, go)
    if output is OutputFormat.json:
        typer.echo(json.dumps({"source": entry.source, "origin": entry.origin, **profile.model_dump(mode="json")},
                              indent=2, ensure_ascii=False))
        return
    if output is OutputFormat.csv:
        typer.echo(render(_metric_rows(profile), output))
        return
    typer.echo(f"{profile.name}: {profile.kind} over {profile.transport} ({entry.source}: {entry.origin})")
    if profile.description:
        typer.echo(profile.description)
    if profile.manufacturer or profile.model:
        typer.echo(f"model: {profile.manufacturer} {profile.model}".rstrip())
    typer.echo("")
    typer.echo(render(_metric_rows(profile), output, ["metric", "source", "type", "scale", "unit", "min", "max"]))
    if profile.commands:
        typer.echo("")
        typer.echo("commands: " + ", ".join(
            f"{action} ({spec.metric})" if spec.metric else action for action, spec in profile.commands.items()))


def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE...", exists=True, dir_okay=False,
                                       help="profile files (.toml, .yaml)"),
) -> None:
    """Check profile files and report every problem with its location; exit 2 if any has one.

    Example: streetwatch profile validate my-gauge.toml
    """
    bad = 0
    for path in files:
        try:
            profile = _check_file(path)
        except ProfileRejected as exc:
            bad += 1
            for problem in exc.problems:
                typer.echo(f"{path}: {problem}")
            continue
        typer.echo(f"{path}: ok ({profile.name}: {profile.kind} over {profile.transport}, "
                   f"{len(profile.metric_names())} metrics)")
    if bad:
        raise UserError(f"{bad} of {len(files)} profile file(s) have problems")


def _check_file(path: Path) -> Profile:
    fmt = profile_format(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileRejected(str(path), [f"cannot read: {exc}"]) from None
    return check_profile_text(text, fmt, str(path))


def add(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", exists=True, dir_okay=False, help="profile file (.toml, .yaml)"),
    replace: bool = typer.Option(False, "--replace", help="replace a profile of the same name"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Add a profile to the database, so every gateway on it can use it.

    Example: streetwatch profile add acme-lc200.toml
    """
    try:
        profile = _check_file(file)
    except ProfileRejected as exc:
        for problem in exc.problems:
            typer.echo(f"{file}: {problem}", err=True)
        raise UserError(f"{file}: {len(exc.problems)} problem(s); nothing added") from None
    text = file.read_text(encoding="utf-8")
    outcome = with_registry(ctx, lambda registry: registry.add_profile(
        text, profile_format(file), source=str(file), by=actor(by), replace=replace))
    typer.echo(f"profile {profile.name}: {outcome} ({profile.kind} over {profile.transport}, "
               f"{len(profile.metric_names())} metrics)")
