"""``streetwatch task create | list | show | accept | onsite | done | cancel``: task orders; ``report duty``."""

from __future__ import annotations

import re

import typer

from device_registry import Registry
from duty.cli import with_roster
from duty.report import DutyReport, duty_report
from duty.roster import Roster
from duty.tasks import Move, Task, TaskError, Tasks
from rules.alert_store import AlertStore
from rules.durations import format_duration_s
from rules.errors import AlertNotFound
from streetwatch.cli_support import OutputFormat, UserError, actor, render
from streetwatch.clock import SystemClock

task_app = typer.Typer(help="Task orders: dispatched → accepted → on site → done (or cancelled).",
                       no_args_is_help=True)
_COLUMNS = ["id", "type", "title", "area", "assignee", "state", "alert", "created", "accept_by", "sla"]
CLOCK = SystemClock()


def _row(task: Task) -> dict[str, object]:
    return {"id": task.id, "type": task.kind, "title": task.title, "area": task.area, "assignee": task.assignee,
            "state": task.state.value, "alert": task.alert_id or "", "created": task.created_at.isoformat(),
            "accept_by": task.accept_by.isoformat(), "sla": "breached" if task.sla_breached_at else ""}


@task_app.command("create")
def create(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--type", help="close_underpass, send_pump, inspect_lamp, …"),
    title: str = typer.Option(..., "--title"),
    area: str = typer.Option(..., "--area"),
    assignee: str = typer.Option(..., "--to", help="the person (a user) it is dispatched to"),
    alert: int | None = typer.Option(None, "--alert", help="the alert it answers"),
    by: str | None = typer.Option(None, "--by", help="who dispatches (default: your OS user)"),
) -> None:
    """Dispatch a task order.

    Example: streetwatch task create --type close_underpass --title "Close Jingtai underpass" --area xinshi --to chen
    """
    async def go(roster: Roster) -> Task:
        await roster.areas.require(area)
        await roster.users.require(assignee)
        if alert is not None:
            alerts = AlertStore(roster.db)
            await alerts.migrate()
            try:
                await alerts.get(alert)
            except AlertNotFound:
                raise TaskError(f"--alert: no alert {alert}") from None
        return await Tasks(roster.db).create(kind=kind, title=title, area=area, assignee=assignee, by=actor(by),
                                             now=CLOCK.now(), accept_within_s=roster.plan.accept_within_s(kind),
                                             alert_id=alert)

    task = with_roster(ctx, go, plan=True)
    typer.echo(f"task {task.id} dispatched to {task.assignee}; accept by {task.accept_by.isoformat()}")


@task_app.command("list")
def list_command(
    ctx: typer.Context,
    area: str | None = typer.Option(None, "--area", help="this area and the areas under it"),
    state: list[str] = typer.Option([], "--state", help="dispatched, accepted, onsite, done, cancelled"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List task orders, newest first.

    Example: streetwatch task list --area baiyun --state dispatched
    """
    async def go(roster: Roster) -> list[Task]:
        areas = None if area is None else await roster.areas.subtree_ids([await _area(roster, area)])
        return await Tasks(roster.db).list(areas=areas, states=tuple(state))

    typer.echo(render([_row(t) for t in with_roster(ctx, go)], output, _COLUMNS))


async def _area(roster: Roster, area: str) -> str:
    return (await roster.areas.require(area)).id


@task_app.command("show")
def show(ctx: typer.Context, task_id: int = typer.Argument(..., metavar="ID"),
         output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv")) -> None:
    """A task order and each of its steps, with who and when.

    Example: streetwatch task show 12
    """
    async def go(roster: Roster) -> tuple[Task, list[dict[str, object]]]:
        tasks = Tasks(roster.db)
        task = await tasks.get(task_id)
        return task, [{"at": e.at.isoformat(), "state": e.state.value, "by": e.by, "note": e.note}
                      for e in await tasks.events(task_id)]

    task, steps = with_roster(ctx, go)
    typer.echo(render([_row(task)], output, _COLUMNS))
    typer.echo(render(steps, output, ["at", "state", "by", "note"]))


def _mover(move: Move) -> None:
    def command(ctx: typer.Context, task_id: int = typer.Argument(..., metavar="ID"),
                by: str | None = typer.Option(None, "--by", help="who (default: your OS user)"),
                note: str = typer.Option("", "--note")) -> None:
        task = with_roster(ctx, lambda r: Tasks(r.db).move(task_id, move, by=actor(by), now=CLOCK.now(), note=note))
        typer.echo(f"task {task.id} is {task.state.value}")

    command.__doc__ = f"Mark a task order {move.to.value}.\n\n    Example: streetwatch task {move.value} 12 --by chen\n"
    task_app.command(move.value)(command)


for _move in Move:
    _mover(_move)


report_app = typer.Typer(help="Reports.", no_args_is_help=True)


@report_app.command("duty")
def report_duty(
    ctx: typer.Context,
    area: str = typer.Option(..., "--area", help="this area and the areas under it"),
    month: str = typer.Option(..., "--month", help="YYYY-MM, in the area's time zone"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Alerts by severity, median and p90 time to acknowledge, unacknowledged alerts, tasks by state, SLA breaches.

    Example: streetwatch report duty --area baiyun --month 2026-07
    """
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise UserError(f"--month {month!r}: write it as YYYY-MM, e.g. 2026-07")

    async def go(roster: Roster) -> DutyReport:
        await roster.areas.require(area)
        alerts, registry = AlertStore(roster.db), Registry(roster.db)
        await alerts.migrate()
        await registry.migrate()
        return await duty_report(roster, registry, area, month)

    found = with_roster(ctx, go)
    rows = [{"what": f"alerts {severity}", "value": count} for severity, count in found.alerts_by_severity.items()]
    rows += [{"what": "acknowledged", "value": found.acknowledged},
             {"what": "unacknowledged", "value": found.unacknowledged},
             {"what": "time to acknowledge, median", "value": _duration(found.ack_median_s)},
             {"what": "time to acknowledge, p90", "value": _duration(found.ack_p90_s)},
             {"what": "time to resolve, median", "value": _duration(found.resolve_median_s)}]
    rows += [{"what": f"tasks {state}", "value": count} for state, count in found.tasks_by_state.items()]
    rows.append({"what": "task SLA breaches", "value": found.sla_breaches})
    typer.echo(render(rows, output, ["what", "value"]))


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration_s(round(seconds))
