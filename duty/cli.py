"""``streetwatch duty show | validate | contact … | responsible …``: rotas, channels and responsibility."""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import typer

from duty.contacts import Contact
from duty.errors import DutyError
from duty.files import DutyPlan, load_duty
from duty.outbox import Outbox
from duty.roster import Roster, open_roster
from duty.rule_tasks import assignee_problems
from duty.suppression import Silence, Silences
from people import CLI_ADDRESS, AuditLog
from people.errors import PeopleError
from rules.durations import parse_duration_s
from rules.loader import load_ruleset_skipping
from rules.runner import configured_rule_files
from streetwatch.cli_support import OutputFormat, UserError, actor, render, run_guarded, settings
from streetwatch.clock import SystemClock

T = TypeVar("T")
duty_app = typer.Typer(help="Duty: who is on duty, how to reach them, who answers for what.", no_args_is_help=True)
contact_app = typer.Typer(help="People's channels: sms, voice, email, wecom, dingtalk, feishu, console.",
                          no_args_is_help=True)
responsible_app = typer.Typer(help="Who answers for a device, a group (hazard point) or an area.",
                              no_args_is_help=True)
duty_app.add_typer(contact_app, name="contact")
duty_app.add_typer(responsible_app, name="responsible")


def with_roster(ctx: typer.Context, action: Callable[[Roster], Awaitable[T]], *, plan: bool = False) -> T:
    """Open the database (and, with ``plan``, load the duty files), run ``action``; domain errors become one
    line. Commands that need no rota or policy work while the duty files are being fixed."""
    current = settings(ctx)

    async def go() -> T:
        loaded = load_duty(current.duty.duty_dir) if plan else DutyPlan()
        async with open_roster(current.database, loaded, current.timezone) as roster:
            return await action(roster)

    return run_guarded(go(), (DutyError, PeopleError))


def parse_at(text: str | None, zone: str) -> datetime:
    """``--at``: now, an ISO time with an offset, or a local wall time in ``zone``."""
    if text is None or text == "now":
        return SystemClock().now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--at {text!r}: use 2026-12-24T08:00 (the area's local time) or add an offset") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))


@duty_app.command("show")
def show(
    ctx: typer.Context,
    area: str = typer.Option(..., "--area", help="the area"),
    at: str | None = typer.Option(None, "--at", help="when (default now); local time of the area unless an offset"),
    role: str = typer.Option("duty_officer", "--role", help="the rota's role"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Who is on duty in an area, and in each area above it, at a time.

    Example: streetwatch duty show --area jingtai --at 2026-12-24T20:00
    """
    async def go(roster: Roster) -> list[dict[str, object]]:
        moment = parse_at(at, await roster.zone(area))
        rows: list[dict[str, object]] = []
        for level, area_id in enumerate(await roster.chain(area)):
            local = moment.astimezone(zoneinfo.ZoneInfo(await roster.zone(area_id)))
            person = await roster.on_duty(area_id, role, moment)
            rota = roster.plan.rota(area_id, role)
            rows.append({"up": level, "area": area_id, "local_time": local.strftime("%Y-%m-%d %H:%M:%S %Z"),
                         "on_duty": person or ("(no rota)" if rota is None else "(nobody)"),
                         "head": ", ".join(await roster.responsibility.of("area", area_id, "head"))})
        return rows

    typer.echo(render(with_roster(ctx, go, plan=True), output, ["up", "area", "local_time", "on_duty", "head"]))


@duty_app.command("validate")
def validate(ctx: typer.Context) -> None:
    """Check the duty files (rotas, policies) and that every area and person they name exists, and the
    people rules' task orders (dispatch_task … to) name.

    Example: streetwatch duty validate
    """
    ruleset, _skipped = load_ruleset_skipping(configured_rule_files(settings(ctx)))  # `rules validate` tells those

    async def check(roster: Roster) -> list[str]:
        people = [user.name for user in await roster.users.list()]
        return [*await roster.problems(), *assignee_problems(ruleset, people)]

    problems = with_roster(ctx, check, plan=True)
    if problems:
        raise UserError("\n".join(problems))
    typer.echo("duty files are valid")


@contact_app.command("add")
def contact_add(
    ctx: typer.Context,
    person: str = typer.Argument(..., help="a user (streetwatch user add)"),
    channel: str = typer.Argument(..., help="sms, voice, email, wecom, dingtalk, feishu or console"),
    address: str = typer.Argument(..., help="mobile number, e-mail address or robot webhook URL"),
    secret: str = typer.Option("", "--secret", help="DingTalk's signing secret (SEC…)"),
    language: str = typer.Option("zh", "--language", help="zh or en"),
) -> None:
    """Add a channel to a person.

    Example: streetwatch duty contact add wang sms 13800138000
    """
    async def go(roster: Roster) -> Contact:
        await roster.users.require(person)
        return await roster.contacts.add(person, channel, address, secret=secret, language=language)

    contact = with_roster(ctx, go)
    typer.echo(f"{contact.person}: {contact.channel} {contact.address}")


@contact_app.command("list")
def contact_list(
    ctx: typer.Context,
    person: str | None = typer.Argument(None),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List channels (secrets redacted).

    Example: streetwatch duty contact list wang
    """
    contacts = with_roster(ctx, lambda r: r.contacts.of(person) if person else r.contacts.all())
    typer.echo(render([c.shown() for c in contacts], output, ["person", "channel", "address", "secret", "language"]))


@responsible_app.command("add")
def responsible_add(
    ctx: typer.Context,
    person: str = typer.Argument(...),
    device: str | None = typer.Option(None, "--device"),
    group: str | None = typer.Option(None, "--group", help="a group or hazard point"),
    area: str | None = typer.Option(None, "--area"),
    head: bool = typer.Option(False, "--head", help="the area's head (escalation's last step)"),
) -> None:
    """Make a person responsible for a device, a group or an area (or the head of an area).

    Example: streetwatch duty responsible add zhao --area baiyun --head
    """
    chosen = [(kind, value) for kind, value in (("device", device), ("group", group), ("area", area)) if value]
    if len(chosen) != 1:
        raise UserError("name exactly one of --device, --group, --area")
    kind, target = chosen[0]
    if head and kind != "area":
        raise UserError("--head goes with --area")

    async def go(roster: Roster) -> None:
        await roster.users.require(person)
        if kind == "area":
            await roster.areas.require(target)
        await roster.responsibility.assign(kind, target, person, "head" if head else "responsible")  # type: ignore[arg-type]

    with_roster(ctx, go)
    typer.echo(f"{person} is {'head' if head else 'responsible'} for {kind} {target}")


silence_app = typer.Typer(help="Silences (maintenance windows): alerts recorded, nobody called.", no_args_is_help=True)
duty_app.add_typer(silence_app, name="silence")
_SILENCE_COLUMNS = ["id", "target", "starts_at", "ends_at", "reason", "by", "ended_early_at"]


def _silence_row(s: Silence) -> dict[str, object]:
    return {"id": s.id, "target": f"{s.target_kind}:{s.target}", "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat(), "reason": s.reason, "by": s.created_by,
            "ended_early_at": s.ended_early_at.isoformat() if s.ended_early_at else ""}


async def _audited_silence(roster: Roster, action: str, target: str, change: Awaitable[Silence],
                           detail: dict[str, object]) -> Silence:
    async def record(result: str) -> None:
        await AuditLog(roster.db).record(actor=actor(None), role="cli", area="root", address=CLI_ADDRESS,
                                         action=action, target=target, result=result, now=SystemClock().now(),
                                         detail=detail)
    try:
        silence = await change
    except DutyError as exc:
        await record(f"refused: {exc}")
        raise
    await record("ok")
    return silence


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
    device: str | None = typer.Option(None, "--device"),
    group: str | None = typer.Option(None, "--group"),
    area: str | None = typer.Option(None, "--area", help="covers the areas under it too"),
    duration: str = typer.Option(..., "--for", help="how long, e.g. 2h or 30m"),
    reason: str = typer.Option(..., "--reason", help="why, for the audit log"),
    by: str | None = typer.Option(None, "--by", help="who (default: your OS user)"),
) -> None:
    """Silence a device, a group or an area for a while: its alerts are recorded but nobody is called.

    Example: streetwatch duty silence add --group hazard-jingtai --for 4h --reason "pump maintenance"
    """
    chosen = [(kind, value) for kind, value in (("device", device), ("group", group), ("area", area)) if value]
    if len(chosen) != 1:
        raise UserError("name exactly one of --device, --group, --area")
    kind, target = chosen[0]
    try:
        seconds = parse_duration_s(duration)
    except ValueError as exc:
        raise UserError(f"--for {duration!r}: {exc}") from None
    now = SystemClock().now()
    who = actor(by)

    async def go(roster: Roster) -> Silence:
        if kind == "area":
            await roster.areas.require(target)
        change = Silences(roster.db).add(kind, target, starts_at=now, ends_at=now + timedelta(seconds=seconds),
                                         reason=reason, by=who)
        return await _audited_silence(roster, "duty.silence.add", f"{kind}:{target}", change,
                                      {"for_s": seconds, "reason": reason, "by": who})

    silence = with_roster(ctx, go)
    typer.echo(f"silence {silence.id} on {kind} {target} until {silence.ends_at.isoformat()}")


@silence_app.command("list")
def silence_list(
    ctx: typer.Context,
    include_ended: bool = typer.Option(False, "--all", help="ended ones too"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Silences in force (or all of them).

    Example: streetwatch duty silence list --all
    """
    found = with_roster(ctx, lambda r: Silences(r.db).list(include_ended=include_ended, now=SystemClock().now()))
    typer.echo(render([_silence_row(s) for s in found], output, _SILENCE_COLUMNS))


@silence_app.command("end")
def silence_end(ctx: typer.Context, silence_id: int = typer.Argument(..., metavar="ID")) -> None:
    """End a silence now.

    Example: streetwatch duty silence end 3
    """
    silence = with_roster(ctx, lambda r: _audited_silence(r, "duty.silence.end", str(silence_id),
                                                          Silences(r.db).end(silence_id, SystemClock().now()), {}))
    typer.echo(f"silence {silence.id} ended")


@duty_app.command("outbox")
def outbox_command(
    ctx: typer.Context,
    alert: int | None = typer.Option(None, "--alert", help="only this alert's notifications"),
    unsent: bool = typer.Option(False, "--unsent", help="only those not handed over yet, or given up"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Who was told what, on which channel, and whether it went out (newest first).

    Example: streetwatch duty outbox --alert 42
    """
    rows = with_roster(ctx, lambda r: Outbox(r.db).recent(alert_id=alert, unsent=unsent, limit=limit))
    typer.echo(render([{"id": r.id, "alert": r.item.alert_id, "to": r.item.recipient, "channel": r.item.channel,
                        "address": r.item.address, "created": r.created_at.isoformat(),
                        "status": "sent" if r.sent_at else ("given up" if r.failed_at else "waiting"),
                        "attempts": r.attempts, "error": r.last_error} for r in rows], output,
                      ["id", "alert", "to", "channel", "address", "created", "status", "attempts", "error"]))
