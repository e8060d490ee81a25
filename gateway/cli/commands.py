"""Every group and command of ``streetwatch``: the root app with the groups the packages provide."""

from __future__ import annotations

from importlib.metadata import entry_points
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
from gateway.cli.root import new_app
from hydrology.cli import water_app
from people.cli import area_app, audit_app, token_app, user_app
from rules.cli import alerts_app, rules_app
from simulators.cli import simulate
from streetwatch.cli_support import OutputFormat, render, settings
from streetwatch.redact import redact_settings, redact_url
from telemetry_store.cli import readings_app
from web import cli as web_cli

app = new_app(on_begin=cli_compose.begin)


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

