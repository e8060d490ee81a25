"""``streetwatch device credentials issue | revoke | list``: a device's broker password.

The password is printed once and stored only as a ``$7$`` hash; ``streetwatch broker config
--reload`` then puts the hash in the broker's password file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import typer

from device_registry.cli_common import BY_HELP, with_registry
from device_registry.credentials import CredentialStore, IssuedPassword, Role
from device_registry.registry import Registry
from streetwatch.cli_support import OutputFormat, UserError, actor, render

credentials_app = typer.Typer(help="Per-device MQTT passwords (stored only as hashes).", no_args_is_help=True)

SECRETS_WARNING = ("{path}: {count} device password(s) in clear, readable only by you (mode 0600). Give them to "
                   "the installer over a safe channel, then delete the file: they cannot be shown again.")


def write_secrets_csv(path: Path, issued: Sequence[IssuedPassword]) -> None:
    """``device_id,username,password`` rows in a file only its owner can read; an existing file is not replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError(f"{path}: exists already; choose a new file for the secrets") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be created ({exc.strerror})") from None
    with os.fdopen(fd, "w", newline="") as out:
        os.fchmod(out.fileno(), 0o600)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["device_id", "username", "password"])
        writer.writerows([i.username, i.username, i.password] for i in issued)


def _store(registry: Registry) -> CredentialStore:
    return CredentialStore(registry)


async def _migrated(registry: Registry) -> CredentialStore:
    store = _store(registry)
    await store.migrate()
    return store


@credentials_app.command("issue")
def issue(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID", help="an MQTT device in service"),
    rotate: bool = typer.Option(False, "--rotate", help="replace the device's current password"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Make a broker password for a device and show it once.

    Example: streetwatch device credentials issue CG-BY-0007
    """

    async def go(registry: Registry) -> IssuedPassword:
        return await (await _migrated(registry)).issue(device_id, by=actor(by), rotate=rotate)

    issued = with_registry(ctx, go)
    typer.echo(f"user name: {issued.username}")
    typer.echo(f"password:  {issued.password}")
    typer.echo("Shown this once; only its hash is stored. Run `streetwatch broker config --reload …` "
               "so the broker knows it.", err=True)


@credentials_app.command("revoke")
def revoke(
    ctx: typer.Context,
    device_id: str = typer.Argument(..., metavar="ID"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Remove a device's broker password: after the broker's reload it cannot connect.

    Example: streetwatch device credentials revoke CG-BY-0007
    """

    async def go(registry: Registry) -> None:
        await (await _migrated(registry)).revoke(device_id, by=actor(by))

    with_registry(ctx, go)
    typer.echo(f"revoked the broker password of {device_id}; run `streetwatch broker config --reload …`")


@credentials_app.command("list")
def list_command(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o"),
) -> None:
    """Accounts that have a broker password, and when it was issued (never the password).

    Example: streetwatch device credentials list -o csv
    """

    async def go(registry: Registry) -> list[dict[str, object]]:
        accounts = await (await _migrated(registry)).accounts()
        return [{"username": a.username, "role": a.role.value, "issued_at": a.issued_at.isoformat()}
                for a in accounts]

    typer.echo(render(with_registry(ctx, go), output, ["username", "role", "issued_at"]))


def issue_service_password(ctx: typer.Context, role: Role, rotate: bool, by: str | None) -> IssuedPassword:
    """For ``streetwatch broker account issue``: the gateway's or the operators' password."""

    async def go(registry: Registry) -> IssuedPassword:
        return await (await _migrated(registry)).issue_service(role, by=actor(by), rotate=rotate)

    return with_registry(ctx, go)
