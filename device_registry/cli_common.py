"""What the registry's commands share: opening the registry, errors at the edge, KEY=VALUE options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from device_registry.errors import RegistryError
from device_registry.registry import Registry, open_registry
from streetwatch.cli_support import UserError, run_guarded, settings

T = TypeVar("T")

BY_HELP = "who makes the change, for the history (default: your OS user)"


def with_registry(ctx: typer.Context, action: Callable[[Registry], Awaitable[T]]) -> T:
    """Open the configured registry, run ``action`` on it, and turn registry errors into one line."""
    current = settings(ctx)

    async def go() -> T:
        async with open_registry(current.database, profiles_dir=current.profiles_dir) as registry:
            return await action(registry)

    return run_guarded(go(), (RegistryError,))


def parse_pairs(values: list[str] | None, option: str, example: str) -> list[tuple[str, str]]:
    """``["site=Baiyun", "unit=7"]`` → pairs; a value without ``=`` is a :class:`UserError` naming ``option``."""
    pairs = []
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option}: {value!r} is not KEY=VALUE (e.g. {option} {example})")
        pairs.append((key.strip(), rest.strip()))
    return pairs
