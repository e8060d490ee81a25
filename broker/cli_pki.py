"""``streetwatch pki init | issue | revoke | list``: the installation's small CA (broker/pki.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from broker.cli import pki_dir
from broker.pki import DEVICE_DAYS, Pki, PkiError
from device_registry.credentials import GATEWAY_USERNAME, OPERATOR_USERNAME
from device_registry.device import DEVICE_ID_PATTERN
from streetwatch.cli_support import OutputFormat, UserError, render, settings

pki_app = typer.Typer(help="The installation's CA: the broker's TLS certificate and device client certificates.",
                      no_args_is_help=True)


def _now() -> datetime:
    return datetime.now(UTC)


@pki_app.command("init")
def init_command(
    ctx: typer.Context,
    server_name: list[str] | None = typer.Option(
        None, "--server-name", help="the broker's DNS name or IP as devices dial it (repeatable; "
                                    "default localhost and 127.0.0.1)"),
) -> None:
    """Make the CA, the broker's certificate and an empty CRL in [broker] pki_dir (default data_dir/pki).

    Example: streetwatch pki init --server-name broker.city.example --server-name 10.20.0.2
    """
    root = pki_dir(settings(ctx))
    try:
        pki = Pki.init(root, server_names=server_name or ["localhost", "127.0.0.1"], now=_now())
    except PkiError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{root}: cannot be written ({exc.strerror})") from None
    typer.echo(f"made a CA in {root}; give devices {pki.ca_cert_path} (never ca.key)")


@pki_app.command("issue")
def issue_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="ID", help="a device id, or ~gateway / ~operator"),
    days: int = typer.Option(DEVICE_DAYS, "--days", min=1, max=3650, help="validity"),
) -> None:
    """A client certificate whose CN is the device id (the broker takes the CN as the user name).

    Example: streetwatch pki issue CG-BY-0007
    """
    if name not in (GATEWAY_USERNAME, OPERATOR_USERNAME) and not DEVICE_ID_PATTERN.match(name):
        raise UserError(f"{name!r} is not a device id (letters, digits, '.', '_' and '-') nor ~gateway/~operator")
    try:
        issued = Pki(pki_dir(settings(ctx))).issue(name, now=_now(), days=days)
    except PkiError as exc:
        raise UserError(str(exc)) from None
    typer.echo(f"{issued.cert_path} and {issued.key_path} (serial {issued.serial:x}, valid until "
               f"{issued.not_after:%Y-%m-%d}); copy both to the device, then delete the key here")


@pki_app.command("revoke")
def revoke_command(ctx: typer.Context, name: str = typer.Argument(..., metavar="ID")) -> None:
    """Put the certificate issued to ID on the CRL; `broker config --reload` makes the broker refuse it.

    Example: streetwatch pki revoke CG-BY-0007
    """
    try:
        serial = Pki(pki_dir(settings(ctx))).revoke(name, now=_now())
    except PkiError as exc:
        raise UserError(str(exc)) from None
    typer.echo(f"revoked certificate {serial:x} of {name}; run `streetwatch broker config --reload …`")


@pki_app.command("list")
def list_command(ctx: typer.Context, output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o")) -> None:
    """Certificates issued, with their expiry and whether they are revoked.

    Example: streetwatch pki list
    """
    pki = Pki(pki_dir(settings(ctx)))
    try:
        revoked = pki.revoked()
        rows = [{"cn": cn, "serial": f"{c.serial_number:x}", "not_after": f"{c.not_valid_after_utc:%Y-%m-%d}",
                 "revoked": c.serial_number in revoked} for cn, c in pki.issued().items()]
    except PkiError as exc:
        raise UserError(str(exc)) from None
    typer.echo(render(rows, output, ["cn", "serial", "not_after", "revoked"]))
