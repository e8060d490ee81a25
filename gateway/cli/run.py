"""``streetwatch run``: the long-running service, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from gateway.composition.http import HttpError
from gateway.composition.logs import LogFormat, configure_logging
from gateway.composition.runtime import Gateway, RunOptions
from gateway.composition.services import composed_services
from gateway.errors import GatewayError
from streetwatch.cli_support import UserError, error_line, settings

log = logging.getLogger(__name__)


async def serve_until_signalled(gateway: Gateway) -> None:
    """Run ``gateway``; SIGTERM or SIGINT stops it cleanly, a second one at once."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gateway.stop)
    try:
        await gateway.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run_command(
    ctx: typer.Context,
    mqtt: bool = typer.Option(True, "--mqtt/--no-mqtt", help="take MQTT telemetry and status from the broker"),
    modbus: bool = typer.Option(True, "--modbus/--no-modbus", help="poll the registered Modbus devices"),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help="text, or json lines for a collector"),
    services: bool = typer.Option(True, "--services/--intake-only",
                                  help="run the rules engine, command dispatcher and lighting scheduler"),
    commit_ms: float = typer.Option(5.0, "--journal-commit-ms", min=0.1, max=5_000.0,
                                    help="group commit window: appends share one fsync within it"),
) -> None:
    """Run the gateway: MQTT ingest, Modbus polling, the store writer, the rules engine, remote control and
    the lighting scheduler, metrics and the API, until stopped.

    Accepted readings are journaled in data_dir first and reach the store exactly once.
    SIGTERM or Ctrl-C stops it within 10 s.

    Example: STREETWATCH_DATABASE_URL=postgresql://streetwatch@localhost/streetwatch streetwatch run
    """
    current = settings(ctx)
    configure_logging(current.log_level, log_format)
    options = RunOptions(mqtt=mqtt, modbus=modbus, journal_fsync_interval_s=commit_ms / 1000)
    gateway = Gateway(current, services=composed_services(current) if services else (), options=options)
    try:
        asyncio.run(serve_until_signalled(gateway))
    except HttpError as exc:  # a port in use: the configuration's to fix
        raise UserError(str(exc)) from None
    except GatewayError as exc:
        error_line(f"the gateway cannot start: {exc}")
        raise typer.Exit(1) from None
    except BaseExceptionGroup as group:  # a task failed; the journal keeps what was accepted
        failures = group.subgroup(GatewayError)
        if failures is None:
            raise
        error_line(f"the gateway stopped: {_first(failures)}")
        raise typer.Exit(1) from None


def _first(group: BaseExceptionGroup[GatewayError]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
