"""The ``streetwatch`` command: a root Typer app whose groups come from the packages."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import typer

from broker.cli import broker_app
from broker.cli_pki import pki_app
from control.cli import command_app, energy_app, lamp_app, schedule_app
from device_registry.cli import device_app, group_app, profile_app
from duty.cli import duty_app
from duty.cli_task import report_app, task_app
from gateway.cli import compose as cli_compose
from gateway.cli import db as cli_db
from gateway.cli import demo as cli_demo
from gateway.cli import ingest as cli_ingest
from gateway.cli import run as cli_run
from hydrology.cli import water_app
from people.cli import area_app, audit_app, token_app, user_app
from rules.cli import alerts_app, rules_app
from simulators.cli import simulate
from streetwatch import __version__
from streetwatch.cli_support import CliState, OutputFormat, render, run_app, settings
from streetwatch.redact import redact_settings, redact_url
from telemetry_store.cli import readings_app
from web import cli as web_cli

app = typer.Typer(
    name="streetwatch",
    help="Watch and drive a city's street infrastructure: lamp posts, culvert gauges, water-quality probes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streetwatch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", envvar="STREETWATCH_CONFIG", help="streetwatch.toml to read",
        dir_okay=False,
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Configuration comes from --config (or STREETWATCH_CONFIG), STREETWATCH_* variables and defaults."""
    ctx.obj = CliState(config_path=config)
    cli_compose.begin(ctx.obj)


config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print every setting with its effective value.

    Example: STREETWATCH_TIMEZONE=UTC streetwatch config show

    Passwords, secrets, tokens and the credentials in URLs are shown as ***.
    """
    current = settings(ctx)
    rows = [{"setting": key, "value": value}
            for key, value in _flatten(redact_settings(current.model_dump()))]
    rows.append({"setting": "(database in use)",
                 "value": f"{current.database.backend}: {redact_url(current.database.url)}"})
    typer.echo(render(rows, OutputFormat.table))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``notifications.webhooks[0].url``-style names for every leaf of the dumped settings."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [row for i, item in enumerate(value) for row in _flatten(item, f"{prefix}[{i}]")]
    return [(prefix, value)]


app.add_typer(config_app, name="config")
app.add_typer(cli_db.app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(alerts_app, name="alerts")
app.command("demo")(cli_demo.demo)
cli_compose.wire()
device_app.command("probe")(cli_compose.probe)
app.add_typer(device_app, name="device")
app.add_typer(profile_app, name="profile")
app.add_typer(group_app, name="group")
app.add_typer(readings_app, name="readings")
app.add_typer(lamp_app, name="lamp")
app.add_typer(command_app, name="command")
app.add_typer(schedule_app, name="schedule")
app.add_typer(energy_app, name="energy")
app.add_typer(water_app, name="water")
app.command("simulate")(simulate)
app.command("run")(cli_run.run_command)
app.add_typer(cli_ingest.app, name="ingest")
device_app.command("pending")(cli_ingest.pending_command)
app.add_typer(broker_app, name="broker")
app.add_typer(pki_app, name="pki")
app.add_typer(area_app, name="area")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.command("serve")(web_cli.serve)
app.add_typer(duty_app, name="duty")
app.add_typer(task_app, name="task")
app.add_typer(report_app, name="report")
command_app.command("approve")(web_cli.approve)
# Groups found by entry point (pyproject.toml): `bench` comes from the benchmarks package, which no
# production module imports.
for _group in entry_points(group="streetwatch.cli"):
    app.add_typer(_group.load(), name=_group.name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``streetwatch`` console script."""
    code = run_app(app, argv)
    if argv is None:
        sys.exit(code)
    return code
