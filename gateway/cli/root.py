"""The root of the ``streetwatch`` command: its options (``--config``, ``--version``), without any group."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from streetwatch import __version__
from streetwatch.cli_support import CliState


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streetwatch {__version__}")
        raise typer.Exit()


def new_app(*, on_begin: Callable[[CliState], None] | None = None) -> typer.Typer:
    """A root app; ``on_begin`` is handed each invocation's state before its command runs."""
    app = typer.Typer(
        name="streetwatch",
        help="Watch and drive a city's street infrastructure: lamp posts, culvert gauges, water-quality probes.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        config: Path | None = typer.Option(
            None, "--config", "-c", envvar="STREETWATCH_CONFIG", help="streetwatch.toml to read",
            dir_okay=False,
        ),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Show the version and exit."),
    ) -> None:
        """Configuration comes from --config (or STREETWATCH_CONFIG), STREETWATCH_* variables and defaults."""
        ctx.obj = CliState(config_path=config)
        if on_begin is not None:
            on_begin(ctx.obj)

    return app
