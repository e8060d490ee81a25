"""``streetwatch group list | show | add | remove``: lighting groups and hazard points."""

from __future__ import annotations

import typer

from device_registry.cli_common import BY_HELP, with_registry
from device_registry.device import LABEL_PATTERN, Device
from device_registry.flat import describe_address
from device_registry.query import DeviceFilter
from device_registry.registry import Registry
from streetwatch.cli_support import OutputFormat, UserError, actor, render

TARGET_HELP = "device ids or selectors: ID, site:NAME, tag:KEY=VALUE, kind:KIND, group:NAME"


def list_command(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List groups with their number of devices.

    Example: streetwatch group list
    """
    groups = with_registry(ctx, lambda registry: registry.groups())
    typer.echo(render([{"group": name, "devices": count} for name, count in groups], output, ["group", "devices"]))


def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="GROUP"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List the devices of a group.

    Example: streetwatch group show riverside-night
    """
    devices = with_registry(ctx, lambda registry: registry.list(DeviceFilter(group=name)))
    if not devices:
        raise UserError(f"group: no device is in group {name!r} (streetwatch group list shows the groups)")
    rows = [{"id": d.id, "kind": d.kind, "address": describe_address(d), "site": d.site, "status": d.status.value}
            for d in devices]
    typer.echo(render(rows, output, ["id", "kind", "address", "site", "status"]))


def _check_name(name: str) -> None:
    if not LABEL_PATTERN.fullmatch(name):
        raise UserError(f"group: {name!r}: letters, digits, '.', '_' and '-' only, 1 to 64 characters")


async def _change(registry: Registry, name: str, targets: list[str], member: bool, by: str) -> list[Device]:
    devices = await registry.resolve_target(targets)
    return await registry.set_group(name, [d.id for d in devices], member=member, by=by)


def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="GROUP"),
    targets: list[str] = typer.Argument(..., metavar="TARGET...", help=TARGET_HELP),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Put devices in a group (a group exists while it has devices).

    Example: streetwatch group add riverside-night LP-BY-000123 LP-BY-000124 tag:street=Jiangbin
    """
    _check_name(name)
    changed = with_registry(ctx, lambda registry: _change(registry, name, targets, True, actor(by)))
    typer.echo(f"group {name}: added {len(changed)} device(s)")


def remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="GROUP"),
    targets: list[str] = typer.Argument(..., metavar="TARGET...", help=TARGET_HELP),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Take devices out of a group.

    Example: streetwatch group remove riverside-night LP-BY-000124
    """
    _check_name(name)
    changed = with_registry(ctx, lambda registry: _change(registry, name, targets, False, actor(by)))
    typer.echo(f"group {name}: removed {len(changed)} device(s)")
