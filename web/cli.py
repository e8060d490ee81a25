"""``streetwatch serve`` (the operator API) and ``streetwatch command approve`` (the two-person rule)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
import uvicorn

from control import Command, CommandStore
from people.cli_common import CLOCK
from streetwatch.cli_support import UserError, actor, run, settings
from streetwatch.database import open_database
from streetwatch.migrations import migrate
from web.app import create_app
from web.approvals import ApprovalRefused, Approvals
from web.schema import MIGRATIONS


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="address to listen on (default: api.host, 127.0.0.1)"),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="port (default: api.port, 8000)"),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", exists=True, dir_okay=False,
                                         help="PEM certificate: serve HTTPS"),
    tls_key: Path | None = typer.Option(None, "--tls-key", exists=True, dir_okay=False, help="PEM private key"),
    proxy: list[str] | None = typer.Option(None, "--trust-proxy",
                                           help="address of a reverse proxy whose X-Forwarded-For to believe"),
) -> None:
    """Serve the operator API (and its OpenAPI document at /openapi.json).

    Example: streetwatch serve --port 8000
    """
    current = settings(ctx)
    if (tls_cert is None) != (tls_key is None):
        raise UserError("--tls-cert and --tls-key go together")
    chosen_host = host or current.api.host
    chosen_port = port or current.api.port
    logging.basicConfig(level=current.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(
        create_app(current), host=chosen_host, port=chosen_port, log_level=current.log_level.lower(),
        ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=bool(proxy), forwarded_allow_ips=",".join(proxy) if proxy else None,
        server_header=False)
    scheme = "https" if tls_cert else "http"
    typer.echo(f"streetwatch: serving the operator API on {scheme}://{chosen_host}:{chosen_port}/api/v1", err=True)
    uvicorn.Server(config).run()


def approve(ctx: typer.Context, request_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Approve a command that waits for a second person (you cannot approve your own).

    Example: streetwatch command approve 12
    """
    current = settings(ctx)

    async def go() -> Command:
        async with open_database(current.database) as db:
            await migrate(db, MIGRATIONS)
            store = await CommandStore.open(db)
            return await Approvals(db).approve(request_id, by=actor(None), now=CLOCK.now(), commands=store)

    try:
        command = run(go())
    except ApprovalRefused as exc:
        raise UserError(str(exc)) from None
    typer.echo(f"approved: command {command.id} queued for {command.device_count} device(s)")
