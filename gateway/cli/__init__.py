"""The ``streetwatch`` command: a root Typer app whose groups come from the packages.

``streetwatch run`` builds a root with only its own command: the long-running gateway does not
import the other groups (the web console's and the broker's commands, duty, hydrology, the
simulators: about 15 MB of resident memory in every gateway; issue #21). Every other invocation
builds the whole command (:mod:`gateway.cli.commands`).
"""

from __future__ import annotations

import sys

import typer

from streetwatch.cli_support import run_app

_VALUED_ROOT_OPTIONS = frozenset({"--config", "-c"})


def command_of(argv: list[str]) -> str | None:
    """The command an argument list names (the first argument that is not a root option), if any."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUED_ROOT_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _app_for(argv: list[str]) -> typer.Typer:
    if command_of(argv) == "run":
        from gateway.cli import run as cli_run
        from gateway.cli.root import new_app

        app = new_app()
        app.command("run")(cli_run.run_command)
        return app
    from gateway.cli.commands import app as full

    return full


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``streetwatch`` console script."""
    args = sys.argv[1:] if argv is None else argv
    code = run_app(_app_for(args), argv)
    if argv is None:
        sys.exit(code)
    return code
