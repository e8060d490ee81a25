"""``streetwatch demo``: the embedded default, no root and no server."""

from __future__ import annotations

import typer

from gateway.components import all_migrations
from streetwatch import migrations
from streetwatch.cli_support import run, settings
from streetwatch.database import open_database


def demo(ctx: typer.Context) -> None:
    """Run Streetwatch on the embedded default (SQLite, no server).

    Example: streetwatch demo
    """
    current = settings(ctx)
    url = current.database

    async def go() -> int:
        async with open_database(url) as db:
            return len(await migrations.migrate(db, all_migrations()))

    applied = run(go())
    typer.echo(f"embedded store ready at {url.url} ({applied} migration(s) applied now)")
