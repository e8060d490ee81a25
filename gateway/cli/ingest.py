"""``streetwatch ingest …`` and ``streetwatch device pending``: what the gateway took in, refused and spooled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer

from device_registry import Registry
from gateway.composition.components import all_migrations
from gateway.intake import journal_status
from gateway.intake.records import GatewayRecords
from streetwatch import migrations
from streetwatch.cli_support import OutputFormat, UserError, error_line, render, run, settings
from streetwatch.config import Settings
from streetwatch.database import Database, DatabaseError, open_database
from telemetry_store.timeparse import parse_time

T = TypeVar("T")

app = typer.Typer(help="What the gateway took in: spool size, rejected payloads, online/offline events.",
                  no_args_is_help=True)


def _with_db(current: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(current.database) as db:
            await migrations.migrate(db, all_migrations())
            return await action(db)

    try:
        return run(go())
    except DatabaseError as exc:
        error_line(str(exc))
        raise typer.Exit(1) from None


def _shown(ts: datetime, current: Settings, fmt: OutputFormat) -> str:
    local = ts.astimezone(current.zone)
    return local.isoformat(sep=" ", timespec="seconds") if fmt is OutputFormat.table else local.isoformat()


def _since(text: str, current: Settings) -> datetime:
    try:
        return parse_time(text, datetime.now(UTC), current.zone)
    except ValueError as exc:
        raise UserError(f"--since: {exc}") from None


@app.command("status")
def status_command(
    ctx: typer.Context,
    since: str = typer.Option("-24h", "--since", help="count rejections from this time (ISO-8601, -2h, now)"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """Show the spool (journal) size and backlog, rejections by reason, pending and offline devices.

    Example: streetwatch ingest status --since -1h
    """
    current = settings(ctx)
    start = _since(since, current)
    spool = journal_status.inspect(current.data_dir / "journal", current.gateway.journal_max_bytes)

    async def go(db: Database) -> tuple[dict[str, int], int, int, int]:
        records = GatewayRecords(db)
        states = await records.device_states()
        pending = await records.pending()
        registered = await Registry(db).get_many([p.device_id for p in pending])
        online = sum(1 for s in states.values() if s.online)
        return (await records.count_dead_letters(start), len(pending) - len(registered), online,
                len(states) - online)

    rejected, pending, online, offline = _with_db(current, go)
    rows: list[dict[str, Any]] = [
        {"what": "spool size (bytes)", "value": spool.size_bytes},
        {"what": "spool backlog (journal records not in the store)", "value": spool.backlog},
        {"what": "spool segments", "value": spool.segments},
        {"what": "spool room left (bytes: journal_max_bytes and free disk)", "value": spool.room_bytes},
        {"what": "free disk where the spool is (bytes)", "value": spool.free_disk_bytes},
        {"what": "devices online", "value": online},
        {"what": "devices offline", "value": offline},
        {"what": "unregistered devices sending (device pending)", "value": pending},
    ]
    rows += [{"what": f"rejected since {_shown(start, current, output)}: {reason}", "value": count}
             for reason, count in rejected.items()]
    typer.echo(render(rows, output, ["what", "value"]))


@app.command("rejected")
def rejected_command(
    ctx: typer.Context,
    device: str | None = typer.Option(None, "--device", "-d", help="only this device"),
    reason: str | None = typer.Option(None, "--reason", help="only this reason, e.g. not_json, unknown_metric"),
    since: str = typer.Option("-24h", "--since", help="from this time (ISO-8601, -2h, now)"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="at most this many, newest first"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List rejected payloads (the dead letters): when, which device, why, how many, and the start of the payload.

    Each row stands for the rejections of one device, reason and metric within a minute; "count" says how many.

    Example: streetwatch ingest rejected --device CG-TH-0007 --reason wrong_type --since -6h
    """
    current = settings(ctx)
    start = _since(since, current)

    async def go(db: Database) -> list[dict[str, Any]]:
        letters = await GatewayRecords(db).dead_letters(device_id=device, reason=reason, since=start, limit=limit)
        # One row stands for every rejection of its device, reason and metric within a minute: "count".
        return [{"received": _shown(d.received_at, current, output), "device": d.device_id, "reason": d.reason,
                 "metric": d.metric or "", "count": d.count, "detail": d.detail, "payload": d.payload,
                 "topic": d.topic}
                for d in letters]

    rows = _with_db(current, go)
    typer.echo(render(rows, output, ["received", "device", "reason", "metric", "count", "detail", "payload"]
                      if output is OutputFormat.table else None))


@app.command("events")
def events_command(
    ctx: typer.Context,
    device: str | None = typer.Option(None, "--device", "-d", help="only this device"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="at most this many, newest first"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List devices going offline and coming back online, newest first.

    Example: streetwatch ingest events --device LP-BY-000123
    """
    current = settings(ctx)

    async def go(db: Database) -> list[dict[str, Any]]:
        return [{"at": _shown(e.at, current, output), "device": e.device_id,
                 "state": "online" if e.online else "offline", "source": e.source, "detail": e.detail}
                for e in await GatewayRecords(db).device_events(device, limit)]

    typer.echo(render(_with_db(current, go), output, ["at", "device", "state", "source", "detail"]))


def pending_command(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", help="also those registered since they were seen"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
) -> None:
    """List device ids that send telemetry but are not registered: register them with `device add`.

    Example: streetwatch device pending --format csv
    """
    current = settings(ctx)

    async def go(db: Database) -> list[dict[str, Any]]:
        pending = await GatewayRecords(db).pending()
        registered = await Registry(db).get_many([p.device_id for p in pending])
        return [{"device": p.device_id, "first_seen": _shown(p.first_seen, current, output),
                 "last_seen": _shown(p.last_seen, current, output), "messages": p.messages,
                 "last_topic": p.last_topic,
                 "registered": registered[p.device_id].status.value if p.device_id in registered else "no"}
                for p in pending if show_all or p.device_id not in registered
                or registered[p.device_id].status.value == "retired"]

    typer.echo(render(_with_db(current, go), output,
                      ["device", "first_seen", "last_seen", "messages", "last_topic", "registered"]))
