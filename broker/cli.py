"""``streetwatch broker config | account | check``: the broker's security, generated from the registry."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer

from broker.check import CheckFailed, check_connection
from broker.mosquitto import BrokerConfigError, BrokerOptions, WrittenConfig, chown_tree, reload_broker, write_config
from broker.pki import Pki, PkiError
from device_registry.cli_common import BY_HELP, with_registry
from device_registry.cli_credentials import issue_service_password
from device_registry.credentials import Account, CredentialStore, Role
from device_registry.device import MqttAddress
from device_registry.registry import Registry
from streetwatch.cli_support import UserError, settings
from streetwatch.config import Settings

broker_app = typer.Typer(help="The MQTT broker's security: its configuration, service accounts, a connection check.",
                         no_args_is_help=True)
account_app = typer.Typer(help="The gateway's and the operators' broker accounts.", no_args_is_help=True)
broker_app.add_typer(account_app, name="account")


def pki_dir(current: Settings) -> Path:
    return current.broker.pki_dir or current.data_dir / "pki"


def _generate(ctx: typer.Context, out: Path, options: BrokerOptions) -> tuple[WrittenConfig, int]:
    current = settings(ctx)

    async def go(registry: Registry) -> tuple[WrittenConfig, int]:
        store = CredentialStore(registry)
        await store.migrate()
        accounts = await store.accounts()
        mqtt = {d.id: d.address for d in await registry.list() if isinstance(d.address, MqttAddress)}
        active = set(mqtt)
        # A password given with `device add --password` (stored as its hash) counts when the device has
        # no issued one and logs in with its id as user name (the ACL's %u is that id).
        have = {a.username for a in accounts}
        accounts += [Account(i, Role.device, a.password, registry.clock.now()) for i, a in mqtt.items()
                     if a.password and a.username in (None, i) and i not in have]
        written = write_config(out, accounts=accounts, active_device_ids=active, pki=Pki(pki_dir(current)),
                               options=options, now=registry.clock.now())
        return written, await registry.revision()

    try:
        return with_registry(ctx, go)
    except (PkiError, BrokerConfigError) as exc:
        raise UserError(str(exc)) from None


@broker_app.command("config")
def config_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", file_okay=False, help="directory for mosquitto.conf and its files"),
    reload: Path | None = typer.Option(None, "--reload", metavar="PIDFILE",
                                       help="send SIGHUP to the broker whose pid is in this file"),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="TLS listener ([broker] tls_port, 8883)"),
    listen_host: str | None = typer.Option(None, "--listen-host", help="[broker] listen_host (127.0.0.1)"),
    require_certificate: bool | None = typer.Option(
        None, "--require-certificate/--no-require-certificate",
        help="clients need a certificate of the CA; its CN is the user name ([broker] require_certificate)"),
    owner: str | None = typer.Option(None, "--owner", help="give the files to this user (Debian: mosquitto)"),
    persistence: bool = typer.Option(False, "--persistence/--no-persistence",
                                     help="keep sessions in DIR/data (when run alone with mosquitto -c; Debian's "
                                          "main mosquitto.conf, which includes this one, sets it already)"),
    follow: float | None = typer.Option(None, "--follow", metavar="SECONDS", min=1,
                                        help="keep running: regenerate (and reload) whenever the registry changes"),
) -> None:
    """Write a Mosquitto configuration from the registry: TLS only, no anonymous clients, a password
    file of hashes, an ACL that keeps each device on its own topics, and the CA's CRL.

    Example: streetwatch broker config --out /etc/mosquitto/streetwatch --owner mosquitto
    --reload /run/mosquitto/mosquitto.pid
    """
    current = settings(ctx).broker
    options = BrokerOptions(port=port or current.tls_port, listen_host=listen_host or current.listen_host,
                            require_certificate=(current.require_certificate if require_certificate is None
                                                 else require_certificate), persistence=persistence)
    last_revision: int | None = None
    while True:
        written, revision = _generate(ctx, out, options)
        if revision != last_revision:
            if owner:
                try:
                    chown_tree(out, owner)
                except BrokerConfigError as exc:
                    raise UserError(str(exc)) from None
            typer.echo(f"wrote {written.config_path}: {written.devices} device account(s), "
                       f"{written.accounts - written.devices} service account(s), "
                       f"{written.revoked_serials} revoked certificate(s)")
            if reload is not None:
                try:
                    pid = reload_broker(reload)
                except BrokerConfigError as exc:
                    raise UserError(str(exc)) from None
                typer.echo(f"reloaded the broker (pid {pid})")
            last_revision = revision
        if follow is None:
            return
        time.sleep(follow)


@account_app.command("issue")
def account_issue(
    ctx: typer.Context,
    role: Role = typer.Argument(..., help="gateway or operator"),
    rotate: bool = typer.Option(False, "--rotate", help="replace the current password"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Make the broker password of the gateway's account (``~gateway``) or the operators' (``~operator``).

    Example: streetwatch broker account issue gateway
    """
    if role is Role.device:
        raise UserError("a device's password: streetwatch device credentials issue ID")
    issued = issue_service_password(ctx, role, rotate, by)
    typer.echo(f"user name: {issued.username}")
    typer.echo(f"password:  {issued.password}")
    typer.echo("Shown this once; only its hash is stored. Put it in the gateway's mqtt_url (percent-encoded) "
               "and run `streetwatch broker config --reload …`.", err=True)


@account_app.command("revoke")
def account_revoke(
    ctx: typer.Context,
    role: Role = typer.Argument(..., help="gateway or operator"),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
) -> None:
    """Remove the gateway's or the operators' broker password.

    Example: streetwatch broker account revoke operator
    """
    from device_registry.credentials import SERVICE_USERNAMES
    from streetwatch.cli_support import actor

    if role is Role.device:
        raise UserError("a device's password: streetwatch device credentials revoke ID")

    async def go(registry: Registry) -> None:
        store = CredentialStore(registry)
        await store.migrate()
        await store.revoke(SERVICE_USERNAMES[role], by=actor(by))

    with_registry(ctx, go)
    typer.echo(f"revoked {SERVICE_USERNAMES[role]}; run `streetwatch broker config --reload …`")


@broker_app.command("check")
def check_command(
    url: str = typer.Argument(..., help="mqtts://USER:PASSWORD@HOST:PORT (or mqtt:// for a plaintext listener)"),
    ca: Path | None = typer.Option(None, "--ca", help="the CA certificate to trust (streetwatch pki: ca.crt)"),
    cert: Path | None = typer.Option(None, "--cert", help="a client certificate"),
    key: Path | None = typer.Option(None, "--key", help="the client certificate's key"),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="seconds to wait for the broker"),
) -> None:
    """Connect to the broker as a device or service would, and say plainly why it fails.

    Example: streetwatch broker check 'mqtts://CG-1:PASSWORD@broker.city.example:8883' --ca ca.crt
    """
    try:
        what = asyncio.run(check_connection(url, ca=ca, cert=cert, key=key, timeout_s=timeout))
    except CheckFailed as exc:
        raise UserError(str(exc)) from None
    typer.echo(what)
