"""What the registry's commands share: opening the registry, who is acting, errors at the edge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from device_registry.errors import RegistryError
from device_registry.registry import Registry, open_registry
from streetwatch.cli_support import UserError, error_line, os_user, run, settings
from streetwatch.database import DatabaseError

T = TypeVar("T")

BY_HELP = "who makes the change, for the history (default: your OS user)"


def actor(by: str | None) -> str:
    """``--by``, else the OS user running the command."""
    return by or os_user()


def with_registry(ctx: typer.Context, action: Callable[[Registry], Awaitable[T]]) -> T:
    """Open the configured registry, run ``action`` on it, and turn registry errors into one line."""
    current = settings(ctx)

    async def go() -> T:
        async with open_registry(current.database, profiles_dir=current.profiles_dir) as registry:
            return await action(registry)

    try:
        return run(go())
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    except DatabaseError as exc:
        error_line(str(exc))
        raise typer.Exit(1) from None


def parse_pairs(values: list[str] | None, option: str, example: str) -> list[tuple[str, str]]:
    """``["site=Baiyun", "unit=7"]`` → pairs; a value without ``=`` is a :class:`UserError` naming ``option``."""
    pairs = []
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option}: {value!r} is not KEY=VALUE (e.g. {option} {example})")
        pairs.append((key.strip(), rest.strip()))
    return pairs
