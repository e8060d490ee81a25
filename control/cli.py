"""``streetwatch lamp …`` and ``streetwatch command …``: commands to lamps, and their audit trail.

The CLI queues a command in the database; the running gateway (``streetwatch run``) picks it up
and delivers it. ``--wait`` follows it until every device confirmed it, refused it, or it expired.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import typer

from control.cli_context import BY_HELP, TARGET_HELP, Control, parse_target, with_control
from control.cli_energy import energy_app
from control.cli_schedule import schedule_app
from control.model import Command, CommandProgress, DeliveryStatus
from control.orders import bulk_refusal, prepare
from streetwatch.cli_support import OutputFormat, UserError, actor, render, settings
from streetwatch.figures import show

__all__ = ["command_app", "energy_app", "lamp_app", "schedule_app"]

lamp_app = typer.Typer(help="Dim and switch lamps: one device, a group, a site or a tag.", no_args_is_help=True)
command_app = typer.Typer(help="Commands sent to devices: list, show, cancel.", no_args_is_help=True)

WAIT_POLL_S = 0.2
PROGRESS_EVERY_S = 1.0  # a line a second at most, however many lamps


def _options(reason: str, ttl_s: float | None, yes: bool, wait: bool, by: str | None) -> dict[str, Any]:
    return {"reason": reason, "ttl_s": ttl_s, "yes": yes, "wait": wait, "by": by}


REASON = typer.Option("", "--reason", "-r", help="why, for the audit trail")
TTL = typer.Option(None, "--ttl", min=1.0,
                   help="seconds to deliver it before it expires (default: the control.command_ttl_s setting)")
YES = typer.Option(False, "--yes", "-y", help="confirm a command for many devices or switching off a site")
WAIT = typer.Option(False, "--wait", "-w", help="follow the command until it is confirmed, failed or expired")
BY = typer.Option(None, "--by", help=BY_HELP)
TAG = typer.Option(None, "--tag", help="instead of TARGET: every device with this tag, KEY=VALUE")


def _queue(
    ctx: typer.Context,
    target: str | None,
    tag: str | None,
    action: str,
    params: dict[str, Any],
    options: dict[str, Any],
) -> None:
    current = settings(ctx)
    command_target = parse_target(target, tag)
    ttl_s = options["ttl_s"] or current.control.command_ttl_s

    async def go(control: Control) -> tuple[Command, CommandProgress | None]:
        schedules = control.schedules() if action == "set_schedule" else None
        action_, canonical, capable, skipped = await prepare(control.directory, command_target, action, params,
                                                              schedules=schedules)
        refusal = bulk_refusal(action_, canonical, command_target, len(capable), current.control.max_bulk_without_yes)
        if refusal is not None and not options["yes"]:
            raise UserError(refusal)
        command = await control.store.create(command_target, action_, canonical, [d.id for d in capable],
                                             requester=actor(options["by"]), reason=options["reason"], ttl_s=ttl_s)
        typer.echo(f"command {command.id}: {_describe(command)} for {command.device_count} device(s) of "
                   f"{command_target}, queued; it expires at {control.local(command.expires_at)}")
        if skipped:
            shown = "; ".join(f"{device} ({why})" for device, why in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            typer.echo(f"skipped {len(skipped)} device(s) that cannot {action_.value}: {shown}{more}", err=True)
        if not options["wait"]:
            return command, None
        grace_s = current.control.attempt_timeout_s + current.control.pickup_interval_s + 1.0
        return command, await _follow(control, command, ttl_s + grace_s)

    command, progress = with_control(ctx, go)
    if progress is not None:
        typer.echo(f"command {command.id}: {progress.status} ({progress.summary})")
        if progress.status != DeliveryStatus.confirmed.value:
            raise typer.Exit(1)


def _describe(command: Command) -> str:
    params = command.params
    match command.action.value:
        case "set_dim":
            return f"dim to {params.get('level_pct')} %"
        case "switch":
            return "switch on" if params.get("on") else "switch off"
        case "flash":
            return "flash" if params.get("on") else "stop flashing"
        case "sync_clock":
            return "sync the clock"
        case "set_schedule":
            return f"load schedule {params.get('schedule')}"
        case _:
            return "clear the on-device schedule"


async def _follow(control: Control, command: Command, timeout_s: float) -> CommandProgress:
    """Poll the command's progress (the gateway delivering it is another process) until it is done."""
    deadline = time.monotonic() + timeout_s
    shown, shown_at = "", 0.0
    progress = await control.store.progress(command.id)
    while not progress.done and time.monotonic() < deadline:
        line = f"command {command.id}: {command.device_count - progress.open}/{command.device_count} done"
        line += f" ({progress.summary})"
        if line != shown and time.monotonic() - shown_at >= PROGRESS_EVERY_S:
            print(line, file=sys.stderr, flush=True)
            shown, shown_at = line, time.monotonic()
        await asyncio.sleep(WAIT_POLL_S)
        progress = await control.store.progress(command.id)
    if not progress.done:
        untouched = progress.counts.get(DeliveryStatus.queued, 0) == command.device_count
        hint = " (nothing was sent: is the gateway, `streetwatch run`, running?)" if untouched else ""
        raise UserError(f"command {command.id} is still open after {show(timeout_s)} s: {progress.summary}{hint}")
    return progress


@lamp_app.command("dim")
def dim(
    ctx: typer.Context,
    values: list[str] = typer.Argument(..., metavar="[TARGET] LEVEL",
                                       help=f"TARGET: {TARGET_HELP} (or --tag); LEVEL: 0 to 100 %"),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Dim lamps to LEVEL % (0 switches the light off, the relay stays as it is).

    Example: streetwatch lamp dim group:harbour-road 40 --reason "market night" --wait
    """
    expected = 1 if tag is not None else 2
    if len(values) != expected:
        shape = "--tag KEY=VALUE LEVEL" if tag is not None else "TARGET LEVEL"
        raise UserError(f"lamp dim: expected {shape}, got {' '.join(values)!r}")
    target, level_text = (None, values[0]) if tag is not None else (values[0], values[1])
    try:
        level = int(level_text.removesuffix("%"))
    except ValueError:
        level = -1
    if not 0 <= level <= 100:
        raise UserError(f"LEVEL: {level_text!r} is not a dim level from 0 to 100 (%)")
    _queue(ctx, target, tag, "set_dim", {"level_pct": level}, _options(reason, ttl_s, yes, wait, by))


@lamp_app.command("on")
def switch_on(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET", help=TARGET_HELP),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Switch lamps on (the relay).

    Example: streetwatch lamp on LP-BY-000123 --wait
    """
    _queue(ctx, target, tag, "switch", {"on": True}, _options(reason, ttl_s, yes, wait, by))


@lamp_app.command("off")
def switch_off(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET", help=TARGET_HELP),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Switch lamps off (the relay). A whole site needs --yes.

    Example: streetwatch lamp off site:Baiyun --yes --reason "grid maintenance"
    """
    _queue(ctx, target, tag, "switch", {"on": False}, _options(reason, ttl_s, yes, wait, by))


@lamp_app.command("flash")
def flash(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET", help=TARGET_HELP),
    stop: bool = typer.Option(False, "--stop", help="stop flashing"),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Flash lamps in the warning pattern (or stop it).

    Example: streetwatch lamp flash group:underpass-approach --reason "flooded underpass"
    """
    _queue(ctx, target, tag, "flash", {"on": not stop}, _options(reason, ttl_s, yes, wait, by))


@lamp_app.command("sync-clock")
def sync_clock(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET", help=TARGET_HELP),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Set the controllers' clocks to the gateway's time.

    Example: streetwatch lamp sync-clock site:Baiyun --yes
    """
    _queue(ctx, target, tag, "sync_clock", {}, _options(reason, ttl_s, yes, wait, by))


@lamp_app.command("set-schedule")
def set_schedule(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET", help=TARGET_HELP),
    name: str = typer.Argument(..., metavar="SCHEDULE"),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Load today's table of a schedule into the controllers, computed for each one's location.

    Example: streetwatch lamp set-schedule group:riverside-night night --wait
    """
    _queue(ctx, target, tag, "set_schedule", {"schedule": name}, _options(reason, ttl_s, yes, wait, by))


@lamp_app.command("clear-schedule")
def clear_schedule(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET", help=TARGET_HELP),
    tag: str | None = TAG,
    reason: str = REASON,
    ttl_s: float | None = TTL,
    yes: bool = YES,
    wait: bool = WAIT,
    by: str | None = BY,
) -> None:
    """Clear the on-device schedule of the controllers.

    Example: streetwatch lamp clear-schedule LP-BY-000123
    """
    _queue(ctx, target, tag, "clear_schedule", {}, _options(reason, ttl_s, yes, wait, by))


def _row(control: Control, progress: CommandProgress) -> dict[str, Any]:
    command = progress.command
    return {"id": command.id, "created": control.local(command.created_at), "requester": command.requester,
            "command": _describe(command), "target": str(command.target), "devices": command.device_count,
            "status": progress.status, "summary": progress.summary, "reason": command.reason}


@command_app.command("list")
def list_commands(ctx: typer.Context,
                  open_only: bool = typer.Option(False, "--open", help="only commands still being delivered"),
                  requester: str | None = typer.Option(None, "--requester", help="only commands of this requester"),
                  limit: int = typer.Option(20, "--limit", min=1, help="how many, newest first"),
                  output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
                  ) -> None:
    """List recent commands, newest first, with how far they got.

    Example: streetwatch command list --open
    """
    async def go(control: Control) -> list[dict[str, Any]]:
        recent = await control.store.recent(limit=limit, open_only=open_only, requester=requester)
        return [_row(control, p) for p in recent]

    rows = with_control(ctx, go)
    typer.echo(render(rows, output, ["id", "created", "requester", "command", "target", "devices", "status",
                                     "summary", "reason"]))


@command_app.command("show")
def show_command(ctx: typer.Context, command_id: int = typer.Argument(..., metavar="ID"),
                 limit: int = typer.Option(20, "--deliveries", min=0, help="how many deliveries to list"),
                 output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
                 ) -> None:
    """Show one command and its deliveries (those not confirmed first).

    Example: streetwatch command show 42 --deliveries 100
    """
    async def go(control: Control) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        progress = await control.store.progress(command_id)
        deliveries = await control.store.deliveries(command_id)
        deliveries.sort(key=lambda d: (d.status is DeliveryStatus.confirmed, d.id))
        head = _row(control, progress) | {"expires": control.local(progress.command.expires_at),
                                          "cancelled": control.local(progress.command.cancelled_at)}
        rows = [{"device": d.device_id, "status": d.status.value, "attempts": d.attempts,
                 "sent": control.local(d.sent_at), "finished": control.local(d.finished_at), "error": d.error or ""}
                for d in deliveries[:limit]]
        return head, rows

    head, rows = with_control(ctx, go)
    if output is OutputFormat.table:
        typer.echo("\n".join(f"{key:>10}: {value}" for key, value in head.items()))
        if rows:
            typer.echo("")
            typer.echo(render(rows, output, ["device", "status", "attempts", "sent", "finished", "error"]))
    else:
        typer.echo(render([head | {"deliveries": rows}], output))


@command_app.command("cancel")
def cancel_command(ctx: typer.Context, command_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Cancel what is not delivered yet of a command (what was confirmed stays done).

    Example: streetwatch command cancel 42
    """
    cancelled = with_control(ctx, lambda control: control.store.cancel(command_id))
    typer.echo(f"command {command_id}: cancelled {cancelled} open deliver{'y' if cancelled == 1 else 'ies'}")
