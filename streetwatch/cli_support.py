"""What every package's CLI shares: loading settings once, one-line errors, output formats.

The CLI is a thin skin over the libraries: a command parses, calls, and turns a domain error
into a :class:`UserError`, which :func:`run_app` prints as one line with exit code 2.
"""

from __future__ import annotations

import asyncio
import csv
import getpass
import io
import json
import logging
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import typer

try:  # recent Typer vendors its own copy of Click; its exceptions live there
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older Typer on the real Click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

from streetwatch.config import ConfigError, Settings, load_settings
from streetwatch.database import DatabaseError, DatabaseUnavailable
from streetwatch.mqtt.errors import MqttSetupError
from streetwatch.redact import redact_text
from streetwatch.safe_text import csv_cell, printable

T = TypeVar("T")
USER_ERROR_EXIT = 2


class UserError(Exception):
    """A mistake the user can fix; shown as one line, exit code 2, no traceback."""


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@dataclass
class CliState:
    """Put on the Typer context by the root callback; settings are loaded on first use."""

    config_path: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings


def settings(ctx: typer.Context) -> Settings:
    """The settings for this invocation (``--config``, environment, defaults)."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        state = CliState()
        ctx.find_root().obj = state
    return state.settings


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one async library call from a command."""
    return asyncio.run(coro)


def run_guarded(coro: Coroutine[Any, Any, T], domain_errors: tuple[type[Exception], ...]) -> T:
    """Run one async library call; a domain error becomes a :class:`UserError` (one line, exit 2),
    an unreachable database one line and exit 1."""
    try:
        return run(coro)
    except domain_errors as exc:
        raise UserError(str(exc)) from None
    except DatabaseError as exc:
        error_line(str(exc))
        raise typer.Exit(1) from None


def actor(by: str | None) -> str:
    """``--by``, else the OS user running the command: who acts, for the history and the audit trail."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers) and no LOGNAME/USER
        return "unknown"


def render(rows: Sequence[dict[str, Any]], fmt: OutputFormat, columns: Sequence[str] | None = None) -> str:
    """Rows as an aligned table, JSON or CSV text.

    Every CSV this CLI writes comes from here: a cell a spreadsheet would run as a formula is
    neutralised (:func:`~streetwatch.safe_text.csv_cell`); a table escapes control and bidi
    characters (:func:`~streetwatch.safe_text.printable`).
    """
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt is OutputFormat.json:
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2, default=str,
                          ensure_ascii=False)
    if fmt is OutputFormat.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else csv_cell(row.get(c)) for c in columns])
        return out.getvalue().rstrip("\n")
    if not rows:
        return "(none)"
    cells = [[("" if row.get(c) is None else printable(str(row.get(c)))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def error_line(message: str) -> None:
    print(f"streetwatch: error: {redact_text(message)}", file=sys.stderr)


def run_app(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code. User mistakes become one line on stderr and exit 2."""
    command = typer.main.get_command(app)
    # The pool's own retry warnings would print on the user's terminal; the error it ends in says it all.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        result = command.main(args=list(argv) if argv is not None else None, prog_name="streetwatch",
                              standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        error_line("aborted")
        return 130
    except click_exceptions.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            typer.echo(exc.ctx.get_help())  # a bare group: show its help, as asked
            return 0
        where = exc.ctx.command_path if exc.ctx is not None else "streetwatch"
        error_line(f"{exc.format_message().replace('Value error, ', '')} (see '{where} --help')")
        return USER_ERROR_EXIT
    except click_exceptions.ClickException as exc:
        error_line(exc.format_message())
        return exc.exit_code
    except (UserError, ConfigError, DatabaseUnavailable, MqttSetupError) as exc:
        error_line(str(exc))
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0
