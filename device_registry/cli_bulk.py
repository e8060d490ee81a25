"""``streetwatch device import | export | list``: many devices at once."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from device_registry.cli_common import BY_HELP, parse_pairs, with_registry
from device_registry.cli_credentials import SECRETS_WARNING, write_secrets_csv
from device_registry.credentials import CredentialStore, IssuedPassword
from device_registry.device import Device, DeviceStatus
from device_registry.errors import ImportRejected
from device_registry.flat import COLUMNS, SECRET_COLUMNS, describe_address, device_to_fields
from device_registry.importer import ImportReport, read_csv
from device_registry.query import DeviceFilter
from device_registry.registry import Registry
from streetwatch.cli_support import OutputFormat, UserError, actor, render

PUBLIC_COLUMNS = [c for c in COLUMNS if c not in SECRET_COLUMNS]
TABLE_COLUMNS = ["id", "kind", "profile", "address", "site", "groups", "status"]


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


def import_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE.csv", exists=True, dir_okay=False, help="CSV with a header row"),
    update: bool = typer.Option(False, "--update", help="change registered devices whose row differs"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="import the good rows even if some are bad"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row, write nothing"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    issue_credentials: Path | None = typer.Option(
        None, "--issue-credentials", metavar="SECRETS.csv", dir_okay=False,
        help="make a broker password for every MQTT device of the file that has none; write them here (0600)"),
) -> None:
    """Register devices from a CSV file (columns: docs/installers.md).

    Every row is checked first; if any is bad, each is reported with its line number and nothing
    is imported (unless --skip-invalid). Importing the same file again changes nothing.

    Example: streetwatch device import baiyun-lamps.csv --dry-run
    """
    if issue_credentials is not None and issue_credentials.exists():
        raise UserError(f"--issue-credentials: {issue_credentials} exists already; choose a new file for the secrets")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: cannot read it: {exc}") from None

    issued: list[IssuedPassword] = []

    async def go(registry: Registry) -> ImportReport:
        try:
            rows = read_csv(text)
            report = await registry.import_devices(rows, update=update, skip_invalid=skip_invalid, dry_run=dry_run,
                                                   by=actor(by))
        except ImportRejected as exc:
            for problem in exc.problems:
                typer.echo(f"{file}: {problem}", err=True)
            raise
        if issue_credentials is not None and not dry_run:
            store = CredentialStore(registry)
            await store.migrate()
            issued.extend(await store.issue_missing((str(r.fields.get("id", "")).strip() for r in rows),
                                                    by=actor(by)))
        return report

    report = with_registry(ctx, go)
    if issue_credentials is not None and not dry_run:
        write_secrets_csv(issue_credentials, issued)
        typer.echo(SECRETS_WARNING.format(path=issue_credentials, count=len(issued)), err=True)
    for problem in report.skipped:
        typer.echo(f"{file}: {problem} (skipped)", err=True)
    verb = "would import" if dry_run else "imported"
    typer.echo(f"{file}: {verb} {report.added} new, {report.updated} updated, {report.unchanged} unchanged, "
               f"{report.skipped_rows} bad row(s) skipped")


def _filter(*, kind: str | None, site: str | None, group: str | None, status: DeviceStatus | None,
            tag: list[str] | None, profile: str | None, include_retired: bool) -> DeviceFilter:
    return DeviceFilter(kind=kind, site=site, group=group, status=status,
                        tags=dict(parse_pairs(tag, "--tag", "pole=steel")), profile=profile,
                        include_retired=include_retired)


def _public_record(device: Device) -> dict[str, Any]:
    record = device.model_dump(mode="json")
    for name in SECRET_COLUMNS:
        record["address"].pop(name, None)
    return record


def list_command(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--kind", help="only this kind"),
    site: str | None = typer.Option(None, "--site", help="only this site"),
    group: str | None = typer.Option(None, "--group", help="only members of this group"),
    status: DeviceStatus | None = typer.Option(None, "--status", help="only this status (retired ones too)"),
    tag: list[str] | None = typer.Option(None, "--tag", help="only devices with KEY=VALUE (repeatable: all must hold)"),
    profile: str | None = typer.Option(None, "--profile", help="only devices using this profile"),
    include_retired: bool = typer.Option(False, "--all", help="include retired devices"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List devices, filtered by kind, site, group, status, tag or profile.

    Example: streetwatch device list --kind culvert_gauge --site Tianhe --format csv
    """
    where = _filter(kind=kind, site=site, group=group, status=status, tag=tag, profile=profile,
                    include_retired=include_retired)
    devices = with_registry(ctx, lambda registry: registry.list(where))
    if output is OutputFormat.table:
        rows = [{"id": d.id, "kind": d.kind, "profile": d.profile, "address": describe_address(d), "site": d.site,
                 "groups": ",".join(d.groups), "status": d.status.value} for d in devices]
        typer.echo(render(rows, output, TABLE_COLUMNS))
        typer.echo(f"{len(devices)} device(s)", err=True)
    elif output is OutputFormat.json:
        typer.echo(json.dumps([_public_record(d) for d in devices], indent=2, ensure_ascii=False))
    else:
        typer.echo(render([device_to_fields(d) for d in devices], output, PUBLIC_COLUMNS))


def export_command(
    ctx: typer.Context,
    fmt: ExportFormat = typer.Option(ExportFormat.csv, "--format", help="csv (re-importable) or json"),
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False, help="write here instead of stdout"),
    include_secrets: bool = typer.Option(False, "--include-secrets", help="include MQTT passwords"),
) -> None:
    """Export every device, retired ones too: CSV in the import format, or JSON records.

    Example: streetwatch device export --format csv -o registry-backup.csv
    """
    devices = with_registry(ctx, lambda registry: registry.list(DeviceFilter(include_retired=True)))
    if fmt is ExportFormat.csv:
        columns = list(COLUMNS) if include_secrets else PUBLIC_COLUMNS
        text = render([device_to_fields(d) for d in devices], OutputFormat.csv, columns) + "\n"
    else:
        records = [d.model_dump(mode="json") if include_secrets else _public_record(d) for d in devices]
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output: cannot write {output}: {exc.strerror}") from None
    typer.echo(f"exported {len(devices)} device(s) to {output}", err=True)
