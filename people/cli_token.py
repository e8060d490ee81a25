"""``streetwatch token create | list | revoke`` and ``streetwatch audit list``."""

from __future__ import annotations

from datetime import datetime

import typer

from people.audit import AuditEntry
from people.cli_common import CLOCK, audited, with_people
from people.directory import People
from people.errors import Invalid
from people.tokens import IssuedToken, Token, parse_lifetime
from streetwatch.cli_support import OutputFormat, UserError, render

token_app = typer.Typer(help="API tokens for integrations: a role in an area, shown once.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: every change, who, where from, and the result.", no_args_is_help=True)


@token_app.command("create")
def create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user"),
    role: str = typer.Option(..., "--role", help="a role the user holds in --area or above it"),
    area: str = typer.Option(..., "--area"),
    expires: str = typer.Option("90d", "--expires", help="lifetime: 12h, 90d, 2w (at most 730d)"),
    label: str = typer.Option("", "--label", help="what the token is for"),
) -> None:
    """Create a token and print it once; only its hash is kept.

    Example: streetwatch token create --user wall-screen --role viewer --area baiyun --expires 90d
    """
    try:
        lifetime = parse_lifetime(expires)
    except Invalid as exc:
        raise UserError(f"--{exc}") from None

    async def go(people: People) -> IssuedToken:
        issue = people.issue_token(user, role, area, lifetime=lifetime, now=CLOCK.now(), label=label)
        return await audited(people, "token.create", user, issue, area=area, detail={"role": role, "expires": expires})

    issued = with_people(ctx, go)
    typer.echo(issued.secret)
    typer.echo(f"token {issued.token.id} for {user} as {role} in {area}, expires "
               f"{issued.token.expires_at:%Y-%m-%d %H:%M} UTC; it is shown only now", err=True)


def _token_row(token: Token, now: datetime) -> dict[str, object]:
    state = "revoked" if token.revoked_at else ("expired" if now >= token.expires_at else "active")
    return {"id": token.id, "user": token.user, "role": token.role.value, "area": token.area, "label": token.label,
            "expires_at": f"{token.expires_at:%Y-%m-%d %H:%M}", "state": state}


@token_app.command("list")
def list_command(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List tokens (never their secrets).

    Example: streetwatch token list --user wall-screen
    """
    tokens = with_people(ctx, lambda people: people.tokens.list(user))
    now = CLOCK.now()
    typer.echo(render([_token_row(t, now) for t in tokens], output,
                      ["id", "user", "role", "area", "label", "expires_at", "state"]))


@token_app.command("revoke")
def revoke(ctx: typer.Context, token_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Revoke a token: the next request with it is refused.

    Example: streetwatch token revoke 3f9a0c12
    """
    token = with_people(ctx, lambda people: audited(people, "token.revoke", token_id,
                                                    people.tokens.revoke(token_id, now=CLOCK.now())))
    typer.echo(f"revoked token {token.id} of {token.user}")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--since: {text!r} is not a date or time such as 2026-12-01 or 2026-12-01T08:00") from None
    return moment if moment.tzinfo else moment.astimezone()


def _audit_row(entry: AuditEntry) -> dict[str, object]:
    return {"seq": entry.seq, "at": f"{entry.at.astimezone():%Y-%m-%d %H:%M:%S}", "actor": entry.actor,
            "role": entry.role, "area": entry.area, "address": entry.address, "action": entry.action,
            "target": entry.target, "result": entry.result}


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", help="only this actor"),
    since: str | None = typer.Option(None, "--since", help="from this date or time (local)"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """The audit log, newest first.

    Example: streetwatch audit list --user li.wei --since 2026-12-01
    """
    start = _since(since)
    entries = with_people(ctx, lambda people: people.audit.list(actor=user, since=start, limit=limit))
    typer.echo(render([_audit_row(e) for e in entries], output,
                      ["seq", "at", "actor", "role", "area", "address", "action", "target", "result"]))
