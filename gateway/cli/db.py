"""``streetwatch db …``: schema migrations for every component."""

from __future__ import annotations

import typer

from gateway.composition.components import all_migrations
from streetwatch import migrations
from streetwatch.cli_support import OutputFormat, render, run, settings
from streetwatch.database import open_database
from telemetry_store.cli import retention_command

app = typer.Typer(help="Database schema: migrate and show status; retention.", no_args_is_help=True)


@app.command("migrate")
def migrate_command(ctx: typer.Context) -> None:
    """Apply every pending schema migration (idempotent).

    Example: streetwatch db migrate
    """
    url = settings(ctx).database

    async def go() -> list[migrations.Migration]:
        async with open_database(url) as db:
            return await migrations.migrate(db, all_migrations())

    applied = run(go())
    for m in applied:
        typer.echo(f"applied {m.component} {m.version}: {m.name}")
    typer.echo(f"{url.backend} schema up to date ({len(applied)} migration(s) applied now)")


@app.command("status")
def status_command(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show each component's migrations and whether they are applied.

    Example: streetwatch db status --format json
    """
    url = settings(ctx).database

    async def go() -> list[migrations.MigrationStatus]:
        async with open_database(url) as db:
            return await migrations.status(db, all_migrations())

    rows = [{"component": s.component, "version": s.version, "name": s.name,
             "applied_at": s.applied_at or "pending"} for s in run(go())]
    typer.echo(render(rows, output, ["component", "version", "name", "applied_at"]))


app.command("retention")(retention_command)
