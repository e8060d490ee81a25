"""What the people commands share: opening the facade, the acting OS user, the audit record, errors."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import typer

from people.audit import CLI_ADDRESS
from people.directory import People, open_people
from people.errors import PeopleError
from streetwatch.cli_support import actor, run_guarded, settings
from streetwatch.clock import SystemClock

T = TypeVar("T")
CLOCK = SystemClock()


def with_people(ctx: typer.Context, action: Callable[[People], Awaitable[T]]) -> T:
    """Open the configured database, run ``action``, and turn domain errors into one line."""
    current = settings(ctx)

    async def go() -> T:
        async with open_people(current.database) as people:
            return await action(people)

    return run_guarded(go(), (PeopleError,))


async def audited(people: People, action: str, target: str, change: Awaitable[T], *, area: str = "root",
                  detail: Mapping[str, Any] | None = None) -> T:
    """Run ``change`` and record it (and a refusal) in the audit log as the OS user from the command line."""
    async def record(result: str) -> None:
        await people.audit.record(actor=actor(None), role="cli", area=area, address=CLI_ADDRESS, action=action,
                                  target=target, detail=detail, result=result, now=CLOCK.now())

    try:
        result = await change
    except PeopleError as exc:
        await record(f"refused: {exc}")
        raise
    await record("ok")
    return result


def read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input (for scripts), or asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
