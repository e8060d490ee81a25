"""``streetwatch rules …`` (validate and list rule files) and ``streetwatch alerts …`` (the alert log).

A thin skin over :mod:`rules.loader` and :class:`rules.alert_store.AlertStore`. Acknowledging or
clearing here changes the database; a running gateway announces the change on its next sweep.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import typer

from device_registry.library import ProfileLibrary
from rules.alert_store import AlertFilter, AlertStore
from rules.alerts import OPEN_STATES, Alert, AlertState, HistoryEntry
from rules.durations import format_duration_s, parse_duration_s
from rules.errors import AlertNotFound, AlertStateError
from rules.loader import SHIPPED_RULES_DIR, RuleSet, check_rule_paths, rule_paths
from rules.metric_check import unknown_metric_warnings
from rules.runner import configured_rule_files
from rules.spec import (
    AbsenceRule,
    ConditionRule,
    GroupRule,
    ProjectedRule,
    QualityRule,
    RateOfChangeRule,
    RuleSpec,
    ThresholdRule,
)
from streetwatch.cli_support import OutputFormat, UserError, render, run, settings
from streetwatch.clock import SystemClock
from streetwatch.config import Settings
from streetwatch.database import DatabaseError, open_database
from streetwatch.figures import show as show_number

T = TypeVar("T")

rules_app = typer.Typer(help="Rule files: validate them, list what they say.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts: list, show, acknowledge, clear, history.", no_args_is_help=True)

FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv")


def _rule_files(current: Settings, path: Path | None) -> tuple[str, list[Path]]:
    """What to read and how to name it: the path given, or the shipped rules plus ``rules_dir``."""
    if path is not None:
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
        return str(path), rule_paths(path)
    if current.rules_dir is None:
        return str(SHIPPED_RULES_DIR), rule_paths(SHIPPED_RULES_DIR)
    if not current.rules_dir.is_dir():
        raise UserError(f"rules_dir {current.rules_dir}: no such directory")
    return f"{SHIPPED_RULES_DIR} + {current.rules_dir}", configured_rule_files(current)


# -- rules -------------------------------------------------------------------------------------


@rules_app.command("validate")
def validate(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="a rule file or directory; default: the configured rules_dir"),
) -> None:
    """Check rule files; print every problem as file:line: field: message (exit 2 if any).

    Also warns (exit 0) when a rule reads a metric that no device profile of its kinds defines
    (shipped profiles and those in profiles_dir).

    Example: streetwatch rules validate rules/culverts.yaml
    """
    current = settings(ctx)
    where, files = _rule_files(current, path)
    if not files:
        raise UserError(f"{where}: no rule files (*.yaml, *.yml, *.toml)")
    ruleset, problems = check_rule_paths(files)
    if ruleset is None:
        for problem in problems:
            typer.echo(problem, err=True)
        typer.echo(f"{len(problems)} problem(s) in {where}", err=True)
        raise typer.Exit(2)
    warnings = unknown_metric_warnings(ruleset, ProfileLibrary.shipped(current.profiles_dir))
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    also = f"; {len(warnings)} warning(s)" if warnings else ""
    typer.echo(f"{where}: {len(ruleset.rules)} rule(s) in {len(files)} file(s), all valid{also}")


def _summary(rule: RuleSpec) -> str:
    if isinstance(rule, ThresholdRule):
        levels = ", ".join(f"{name} {show_number(value)}" for name, value in rule.levels.items())
        return f"{rule.metric} {rule.direction} {levels or '(device levels)'}"
    if isinstance(rule, RateOfChangeRule):
        word, limit = ("rise", rule.rise) if rule.rise is not None else ("fall", rule.fall)
        return f"{rule.metric} {word} > {show_number(limit)} per {format_duration_s(rule.window_s)}"
    if isinstance(rule, ProjectedRule):
        levels = ", ".join(f"{name} {show_number(value)}" for name, value in rule.levels.items())
        return f"{rule.metric} projected to {levels or '(device levels)'} within {format_duration_s(rule.within_s)}"
    if isinstance(rule, QualityRule):
        return f"{rule.metric} trustworthy (spike, gradient, stuck, floor, battery, signal checks)"
    if isinstance(rule, AbsenceRule):
        return f"no data for {format_duration_s(rule.after_s)}"
    if isinstance(rule, ConditionRule):
        return rule.when
    assert isinstance(rule, GroupRule)
    return f"≥ {rule.at_least} of a {rule.group_by} at {rule.min_severity}+ in {rule.source}"


@rules_app.command("list")
def list_rules(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="a rule file or directory; default: the configured rules_dir"),
    output: OutputFormat = FORMAT,
) -> None:
    """List the rules: kind, devices, condition, severity, persistence and where each is written.

    Example: streetwatch rules list --format json
    """
    ruleset = _load(*_rule_files(settings(ctx), path))
    rows = []
    for rule in ruleset.rules:
        selector = rule.applies_to
        applies = ", ".join([*selector.kinds, *selector.profiles, *selector.sites, *selector.groups,
                             *selector.devices]) or "all devices"
        if isinstance(rule, GroupRule):
            applies = f"{rule.group_by}s, from {rule.source}"
        severity = getattr(rule, "severity", None) or "by level"
        rows.append({"name": rule.name, "kind": rule.kind, "applies_to": applies, "condition": _summary(rule),
                     "severity": severity, "for": format_duration_s(rule.for_s),
                     "clear_for": format_duration_s(rule.clear_for_s), "enabled": rule.enabled,
                     "where": ruleset.origins.get(rule.name, "")})
    typer.echo(render(rows, output))


def _load(where: str, files: list[Path]) -> RuleSet:
    ruleset, problems = check_rule_paths(files)
    if ruleset is None:
        first = problems[0] if problems else f"{where}: cannot load"
        more = f" (and {len(problems) - 1} more; see 'streetwatch rules validate')" if len(problems) > 1 else ""
        raise UserError(first + more)
    return ruleset


# -- alerts ------------------------------------------------------------------------------------


def _with_store(ctx: typer.Context, work: Callable[[AlertStore], Awaitable[T]]) -> T:
    current = settings(ctx)
    try:
        scale = _load(*_rule_files(current, None)).scale
    except UserError:
        scale = None  # the alerts are still readable with the default scale

    async def go() -> T:
        async with open_database(current.database) as db:
            store = AlertStore(db, scale=scale)
            await store.migrate()
            return await work(store)

    try:
        return run(go())
    except (AlertNotFound, AlertStateError) as exc:
        raise UserError(str(exc)) from None
    except DatabaseError as exc:
        raise UserError(f"alert store: {exc}") from None


def _local(ctx: typer.Context, at: datetime | None) -> str | None:
    return at.astimezone(settings(ctx).zone).strftime("%Y-%m-%d %H:%M:%S") if at is not None else None


def _alert_row(ctx: typer.Context, alert: Alert) -> dict[str, Any]:
    return {"id": alert.id, "severity": alert.severity, "state": alert.state.value, "rule": alert.rule,
            "device": alert.device_id, "site": alert.site, "kind": alert.device_kind, "value": alert.value,
            "threshold": alert.threshold, "raised": _local(ctx, alert.raised_at),
            "updated": _local(ctx, alert.updated_at), "message": alert.message}


def _history_row(ctx: typer.Context, entry: HistoryEntry) -> dict[str, Any]:
    return {"alert": entry.alert_id, "at": _local(ctx, entry.at), "event": entry.event.value,
            "severity": entry.severity, "state": entry.state.value, "value": entry.value, "by": entry.actor,
            "note": entry.note}


SEVERITY = typer.Option([], "--severity", "-s", help="only this severity (repeat for several)")
SITE = typer.Option([], "--site", help="only this site (repeat for several)")
KIND = typer.Option([], "--kind", help="only this device kind, e.g. culvert_gauge (repeat for several)")
STATE = typer.Option([], "--state", help="only this state (repeat for several); default: not closed")
RULE = typer.Option([], "--rule", help="only this rule (repeat for several)")
DEVICE = typer.Option([], "--device", help="only this device id (repeat for several)")
LIMIT = typer.Option(100, "--limit", min=1, help="at most this many rows")


def _filter(*, severity: list[str], site: list[str], kind: list[str], state: list[AlertState], rule: list[str],
            device: list[str], since: str | None = None, limit: int = 100) -> AlertFilter:
    since_at = None
    if since is not None:
        try:
            since_at = SystemClock().now() - timedelta(seconds=parse_duration_s(since))
        except ValueError as exc:
            raise UserError(f"--since: {exc}") from None
    return AlertFilter(severities=severity, sites=site, kinds=kind, states=[s.value for s in state], rules=rule,
                       devices=device, since=since_at, limit=limit)


@alerts_app.command("list")
def list_alerts(
    ctx: typer.Context, *, severity: list[str] = SEVERITY, site: list[str] = SITE, kind: list[str] = KIND,
    state: list[AlertState] = STATE, rule: list[str] = RULE, device: list[str] = DEVICE,
    show_all: bool = typer.Option(False, "--all", help="closed alerts too"), limit: int = LIMIT,
    output: OutputFormat = FORMAT,
) -> None:
    """List alerts, most recently changed first; open ones (raised, acknowledged, cleared) unless told.

    Example: streetwatch alerts list --severity red --site district-3
    """
    states = state or ([] if show_all else list(OPEN_STATES))
    where = _filter(severity=severity, site=site, kind=kind, state=states, rule=rule, device=device, limit=limit)
    alerts = _with_store(ctx, lambda store: store.list_alerts(where))
    typer.echo(render([_alert_row(ctx, a) for a in alerts], output,
                      ["id", "severity", "state", "rule", "device", "site", "kind", "value", "threshold", "raised",
                       "updated"]))


@alerts_app.command("show")
def show(ctx: typer.Context, alert_id: int = typer.Argument(..., metavar="ID"), output: OutputFormat = FORMAT) -> None:
    """Show one alert in full, with its history.

    Example: streetwatch alerts show 12
    """
    async def work(store: AlertStore) -> tuple[Alert, list[HistoryEntry]]:
        return await store.get(alert_id), await store.history(alert_id)

    alert, history = _with_store(ctx, work)
    row = _alert_row(ctx, alert) | {
        "peak_severity": alert.peak_severity, "metric": alert.metric,
        "location": (f"{alert.location.latitude:.5f},{alert.location.longitude:.5f} {alert.location.landmark}".strip()
                     if alert.location else None),
        "acknowledged": _local(ctx, alert.acknowledged_at), "acknowledged_by": alert.acknowledged_by,
        "ack_note": alert.ack_note, "cleared": _local(ctx, alert.cleared_at), "cleared_by": alert.cleared_by,
        "clear_note": alert.clear_note, "closed": _local(ctx, alert.closed_at)}
    if output is OutputFormat.table:
        typer.echo(render([{"field": k, "value": v} for k, v in row.items() if v is not None], output))
        typer.echo("")
    else:
        typer.echo(render([row], output))
    typer.echo(render([_history_row(ctx, h) for h in history], output))


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise UserError("--by: say who you are (no login name to use)") from None


@alerts_app.command("ack")
def ack(
    ctx: typer.Context, alert_id: int = typer.Argument(..., metavar="ID"),
    by: str | None = typer.Option(None, "--by", help="who acknowledges (default: your login name)"),
    note: str | None = typer.Option(None, "--note", help="what is being done about it"),
) -> None:
    """Acknowledge an alert (a cleared one closes). Reminders for it stop.

    Example: streetwatch alerts ack 12 --by li.wei --note "pump crew on the way"
    """
    actor = _actor(by)
    change = _with_store(ctx, lambda store: store.acknowledge(alert_id, actor, note, SystemClock().now()))
    typer.echo(f"alert {alert_id} {change.alert.state.value} by {actor}")


@alerts_app.command("clear")
def clear(
    ctx: typer.Context, alert_id: int = typer.Argument(..., metavar="ID"),
    by: str | None = typer.Option(None, "--by", help="who clears it (default: your login name)"),
    note: str | None = typer.Option(None, "--note", help="why"),
) -> None:
    """Clear an alert by hand and close it; the rule raises it again only if it gets worse.

    Example: streetwatch alerts clear 12 --by li.wei --note "gauge replaced"
    """
    actor = _actor(by)
    _with_store(ctx, lambda store: store.clear(alert_id, actor, note, SystemClock().now()))
    typer.echo(f"alert {alert_id} cleared and closed by {actor}")


@alerts_app.command("history")
def history(
    ctx: typer.Context, alert_id: int | None = typer.Argument(None, metavar="[ID]", help="one alert's history"), *,
    severity: list[str] = SEVERITY, site: list[str] = SITE, kind: list[str] = KIND, state: list[AlertState] = STATE,
    rule: list[str] = RULE, device: list[str] = DEVICE,
    since: str | None = typer.Option(None, "--since", help="only changes in this last span, e.g. 24h"),
    limit: int = LIMIT, output: OutputFormat = FORMAT,
) -> None:
    """The history of one alert, or the latest changes of every alert that matches the filters.

    Example: streetwatch alerts history --site district-3 --since 24h
    """
    where = _filter(severity=severity, site=site, kind=kind, state=state, rule=rule, device=device, since=since,
                    limit=limit)
    entries = _with_store(ctx, lambda store: store.history(alert_id) if alert_id is not None
                          else store.recent_history(where))
    typer.echo(render([_history_row(ctx, h) for h in entries], output))
