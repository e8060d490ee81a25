"""The installer's commands: ``device …``, ``profile …`` and ``group …`` (registered by the gateway's CLI)."""

from __future__ import annotations

import typer

from device_registry import cli_bulk, cli_device, cli_group, cli_profile
from device_registry.cli_credentials import credentials_app

device_app = typer.Typer(help="Register, list, change and retire devices.", no_args_is_help=True)
device_app.command("add")(cli_device.add)
device_app.command("import")(cli_bulk.import_command)
device_app.command("export")(cli_bulk.export_command)
device_app.command("list")(cli_bulk.list_command)
device_app.command("show")(cli_device.show)
device_app.command("update")(cli_device.update)
device_app.command("retire")(cli_device.retire)
device_app.command("history")(cli_device.history)
device_app.add_typer(credentials_app, name="credentials")

profile_app = typer.Typer(help="Device profiles: what each device model exposes, as data.", no_args_is_help=True)
profile_app.command("list")(cli_profile.list_command)
profile_app.command("show")(cli_profile.show)
profile_app.command("validate")(cli_profile.validate)
profile_app.command("add")(cli_profile.add)

group_app = typer.Typer(help="Lighting groups and hazard points: named sets of devices.", no_args_is_help=True)
group_app.command("list")(cli_group.list_command)
group_app.command("show")(cli_group.show)
group_app.command("add")(cli_group.add)
group_app.command("remove")(cli_group.remove)
