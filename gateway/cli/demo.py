"""``streetwatch demo``: the embedded default, no root and no server; a storm in the first minutes."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from gateway.composition.demo import DemoSummary, demo_scenario, run_demo
from gateway.composition.demo_console import DemoConsole
from gateway.composition.runtime import Gateway
from simulators.fleet import Fleet
from streetwatch.cli_support import UserError, settings

SEVERITY_STYLE = {"yellow": "yellow", "orange": "dark_orange", "red": "bold red"}


class LiveView:
    """What a duty officer would glance at: traffic, devices, alerts, lamps, culverts."""

    def __init__(self, live: Live | None) -> None:
        self.live = live
        self.last_stored = 0
        self.last_elapsed = 0.0
        self.last_line = -10.0
        self.console_url = ""

    def announce(self, console: DemoConsole) -> None:
        """The console's address and the demo login, once: the password is not shown again."""
        self.console_url = console.url
        text = (f"operator console: {console.url}  log in as {console.user!r} with password "
                f"{console.password!r} (a new one each demo)")
        if self.live is None:
            print(text, flush=True)
        else:
            self.live.console.print(text, markup=False, soft_wrap=True)

    def __call__(self, elapsed: float, summary: DemoSummary, fleet: Fleet, gateway: Gateway) -> None:
        rate = (summary.readings_stored - self.last_stored) / max(elapsed - self.last_elapsed, 1e-6)
        self.last_stored, self.last_elapsed = summary.readings_stored, elapsed
        levels = {gid: g.true_level_mm(fleet.clock.now()) for gid, g in fleet.gauges.items()}
        dims = Counter(lamp.controller.dim_level_pct if lamp.controller.relay_on else 0
                       for lamp in fleet.lamps.values())
        if self.live is None:  # not a terminal: a line every 10 s
            if elapsed - self.last_line >= 10:
                self.last_line = elapsed
                top = max(levels.values(), default=0.0)
                print(f"{elapsed:5.0f} s  {rate:7.0f} readings/s  online {summary.devices_online}/{summary.devices}"
                      f"  highest culvert {top:4.0f} mm  flood alerts raised "
                      + " ".join(f"{s}={summary.raised.get(s, 0)}" for s in SEVERITY_STYLE)
                      + f" open={summary.still_open}  lamps at 100 %: {dims.get(100, 0)}"
                      f"  confirmed deliveries {summary.deliveries_confirmed}", flush=True)
            return
        head = Table.grid(padding=(0, 3))
        head.add_row(f"[b]Streetwatch demo[/b] — Baiyun, Guangzhou — {elapsed:4.0f} s",
                     f"{rate:,.0f} readings/s", f"{summary.readings_stored:,} stored",
                     f"devices online {summary.devices_online}/{summary.devices}",
                     f"console {self.console_url}" if self.console_url else "")
        alerts = Table(title="Flood alerts (culvert water level)", expand=True)
        for name in ("yellow", "orange", "red", "open", "cleared"):
            alerts.add_column(name, justify="right")
        alerts.add_row(*(f"[{SEVERITY_STYLE[s]}]{summary.raised.get(s, 0)}" for s in SEVERITY_STYLE),
                       str(summary.still_open), str(summary.cleared))
        culverts = Table(title="Culverts (water over the floor, mm)", expand=True)
        culverts.add_column("gauge")
        culverts.add_column("level", justify="right")
        for gid, level in sorted(levels.items()):
            style = ("bold red" if level >= 800 else "dark_orange" if level >= 500
                     else "yellow" if level >= 300 else "green")
            culverts.add_row(gid, f"[{style}]{level:5.0f}")
        lamps = Table(title="Lamps", expand=True)
        lamps.add_column("dim level")
        lamps.add_column("lamps", justify="right")
        for level, count in sorted(dims.items()):
            lamps.add_row("off" if level == 0 else f"{level} %", str(count))
        commands = Table(title="Commands", expand=True)
        commands.add_column("commands", justify="right")
        commands.add_column("deliveries confirmed", justify="right")
        commands.add_column("from flood rules", justify="right")
        commands.add_row(str(summary.commands), str(summary.deliveries_confirmed),
                         str(summary.rule_deliveries_confirmed))
        body = Table.grid(expand=True)
        body.add_row(culverts, Group(alerts, lamps, commands))
        self.live.update(Group(head, body))


def demo(
    ctx: typer.Context,
    duration_s: float = typer.Option(280.0, "--duration", min=0,
                                     help="seconds to run, then print a summary; 0 runs until Ctrl-C"),
    lamps: int = typer.Option(300, "--lamps", min=1, max=5000),
    gauges: int = typer.Option(12, "--gauges", min=1, max=200),
    probes: int = typer.Option(3, "--probes", min=0, max=100),
    rain: str = typer.Option("30s+120s@80mm/h", "--rain", help="START+DURATION@INTENSITY of the storm"),
    console_on: bool = typer.Option(True, "--console/--no-console",
                                    help="serve the operator console on 127.0.0.1 (port: api.port if set, "
                                         "else a free one) with a demo login"),
) -> None:
    """Run a district on the embedded default: simulated devices, the gateway, rules, a storm.

    No root and no server: a SQLite store in data_dir/demo (started afresh each time) and an
    in-process MQTT broker on a free port. About 30 s in a rainstorm starts: culvert levels rise,
    yellow, orange and red flood alerts are raised, the red ones set the lamps at their hazard point
    to 100 %; then the water drains and the alerts clear. Exits 0 only if all of that happened.
    Meanwhile the operator console shows it on the map: its address and a demo login (an operator
    of every area, with a password made for this run) are printed once it answers.

    Example: streetwatch demo --duration 280
    """
    current = settings(ctx)
    try:
        scenario = demo_scenario(lamps=lamps, gauges=gauges, probes=probes, rain=rain)
    except ValueError as exc:
        raise UserError(f"--rain: {exc}") from None
    console = Console()
    interactive = console.is_terminal and sys.stdout.isatty()
    typer.echo(f"Streetwatch demo: {lamps} lamps, {gauges} culvert gauges, {probes} water-quality probes around "
               f"Baiyun; storm {rain}; data in {current.data_dir / 'demo'}")
    live = Live(console=console, refresh_per_second=2) if interactive else None
    view = LiveView(live)
    announce = view.announce if console_on else None
    try:
        with live if live is not None else contextlib.nullcontext():
            summary = asyncio.run(run_demo(current, duration_s=duration_s or None, scenario=scenario,
                                           report=view, announce=announce))
    except KeyboardInterrupt:
        typer.echo("stopped")
        raise typer.Exit(130) from None
    typer.echo("summary:")
    for line in summary.lines():
        typer.echo(f"  {line}")
    problems = summary.problems()
    if problems:
        typer.echo("the story did not complete: " + "; ".join(problems), err=True)
        raise typer.Exit(1)
    typer.echo("the story happened: the storm raised yellow, orange and red, lit the hazard points, and cleared")
