"""``streetwatch user add | list | disable | enable | passwd | grant | revoke``: people and their roles in areas."""

from __future__ import annotations

import typer

from people.cli_common import CLOCK, audited, read_password, with_people
from people.directory import People
from people.roles import Role
from people.users import User
from streetwatch.cli_support import OutputFormat, render

user_app = typer.Typer(help="Users, their passwords and their roles in areas.", no_args_is_help=True)
ROLES_HELP = ", ".join(r.value for r in Role)
_STDIN_HELP = "read the password from one line of standard input instead of asking"


@user_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="USER"),
    role: str | None = typer.Option(None, "--role", help=f"grant this role at once ({ROLES_HELP})"),
    area: str = typer.Option("root", "--area", help="the area of --role (default: the whole city)"),
    display_name: str = typer.Option("", "--display-name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_STDIN_HELP),
) -> None:
    """Add a user (asks for the password), optionally with a role in an area.

    Example: streetwatch user add li.wei --role operator --area jingtai
    """
    password = read_password(password_stdin)

    async def go(people: People) -> User:
        async def create() -> User:
            user = await people.users.add(name, password, now=CLOCK.now(), display_name=display_name)
            if role is not None:
                await people.grants.grant(name, role, area, by="cli", now=CLOCK.now())
            return user
        return await audited(people, "user.add", name, create(), area=area, detail={"role": role})

    user = with_people(ctx, go)
    typer.echo(f"added user {user.name}" + (f" as {role} in {area}" if role else ""))


@user_app.command("list")
def list_command(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List users with their grants.

    Example: streetwatch user list
    """
    async def go(people: People) -> list[dict[str, object]]:
        grants = await people.grants.all()
        return [{"user": u.name, "display_name": u.display_name, "disabled": u.disabled,
                 "grants": ", ".join(f"{g.role.value}@{g.area}" for g in grants if g.user == u.name)}
                for u in await people.users.list()]

    typer.echo(render(with_people(ctx, go), output, ["user", "display_name", "disabled", "grants"]))


def _set_disabled(ctx: typer.Context, name: str, disabled: bool) -> None:
    action = "user.disable" if disabled else "user.enable"
    with_people(ctx, lambda people: audited(people, action, name, people.users.set_disabled(name, disabled)))
    typer.echo(f"{'disabled' if disabled else 'enabled'} user {name}")


@user_app.command("disable")
def disable(ctx: typer.Context, name: str = typer.Argument(..., metavar="USER")) -> None:
    """Disable a user: their sessions and tokens stop working at once.

    Example: streetwatch user disable li.wei
    """
    _set_disabled(ctx, name, True)


@user_app.command("enable")
def enable(ctx: typer.Context, name: str = typer.Argument(..., metavar="USER")) -> None:
    """Enable a disabled user again.

    Example: streetwatch user enable li.wei
    """
    _set_disabled(ctx, name, False)


@user_app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="USER"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=_STDIN_HELP),
) -> None:
    """Set a user's password.

    Example: streetwatch user passwd li.wei
    """
    password = read_password(password_stdin)
    with_people(ctx, lambda people: audited(people, "user.passwd", name, people.users.set_password(name, password)))
    typer.echo(f"password of {name} changed")


@user_app.command("grant")
def grant(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="USER"),
    role: str = typer.Argument(..., metavar="ROLE", help=ROLES_HELP),
    area: str = typer.Argument(..., metavar="AREA"),
) -> None:
    """Give a user a role in an area (and every area under it).

    Example: streetwatch user grant zhang.min duty_officer baiyun
    """
    with_people(ctx, lambda people: audited(people, "user.grant", name,
                                            people.grants.grant(name, role, area, by="cli", now=CLOCK.now()),
                                            area=area, detail={"role": role}))
    typer.echo(f"{name} is {role} in {area}")


@user_app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="USER"),
    role: str = typer.Argument(..., metavar="ROLE"),
    area: str = typer.Argument(..., metavar="AREA"),
) -> None:
    """Take a role in an area away from a user (their tokens for it stop working).

    Example: streetwatch user revoke zhang.min duty_officer baiyun
    """
    with_people(ctx, lambda people: audited(people, "user.revoke", name, people.grants.revoke(name, role, area),
                                            area=area, detail={"role": role}))
    typer.echo(f"{name} is no longer {role} in {area}")
