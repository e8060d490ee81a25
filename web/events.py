"""``/api/v1/events``: Server-Sent Events of alert changes, command progress and task orders in the caller's areas.

Alert changes come from the alert history that every raise, escalation, acknowledgement and clearing
writes (by the gateway, the CLI or this API); each event's id is the history row's id, so a client that
reconnects with ``Last-Event-ID`` gets what it missed. Command progress and task orders' states are snapshots
(``command`` and ``task`` events, without an id): a reconnecting client simply receives the current state.
The stream polls the database every ``api.events_poll_s``, which works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from duty.tasks import Tasks
from people import ROOT_AREA, Permission
from web.auth import Access, authorized, services_of
from web.command_areas import commands_in_areas
from web.errors import invalid
from web.models import ERROR_RESPONSES, MAX_ID
from web.services import Services

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERROR_RESPONSES)
KEEPALIVE_S = 15.0
_BATCH = 500
_RECENT_COMMANDS = 20
_RECENT_TASKS = 20


def _frame(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def _alert_changes(services: Services, access: Access, after: int) -> tuple[list[str], int]:
    rows = await services.db.fetch_all(
        "SELECT h.id, h.alert_id, h.at, h.event, h.severity, h.state, h.value, h.actor, h.note, a.device_id, "
        "a.rule, a.site, a.message FROM alert_history h JOIN alerts a ON a.id = h.alert_id WHERE h.id > ? "
        "ORDER BY h.id LIMIT ?", (after, _BATCH))
    if not rows:
        return [], after
    devices = await services.registry.get_many({str(row["device_id"]) for row in rows})
    frames = []
    for row in rows:
        device = devices.get(str(row["device_id"]))
        if not access.sees((device.area if device else "") or ROOT_AREA):
            continue
        data = {key: row[key] for key in ("alert_id", "event", "severity", "state", "value", "actor", "note",
                                          "rule", "site", "message")}
        frames.append(_frame("alert", {**data, "device": row["device_id"], "at": str(row["at"])}, int(row["id"])))
    return frames, int(rows[-1]["id"])


async def _command_changes(services: Services, access: Access, seen: dict[int, str]) -> list[str]:
    frames = []
    for command_id in await commands_in_areas(services.db, access.device_areas(), limit=_RECENT_COMMANDS):
        progress = await services.commands.progress(command_id)
        state = f"{progress.status}:{progress.summary}"
        if seen.get(command_id) != state:
            seen[command_id] = state
            frames.append(_frame("command", {"command": command_id, "status": progress.status,
                                             "counts": {s.value: n for s, n in progress.counts.items()},
                                             "device_count": progress.command.device_count}))
    return frames


async def _task_changes(services: Services, access: Access, seen: dict[int, str]) -> list[str]:
    frames = []
    for task in await Tasks(services.db).list(areas=access.device_areas(), limit=_RECENT_TASKS):
        if seen.get(task.id) != task.state.value:
            seen[task.id] = task.state.value
            frames.append(_frame("task", {"task": task.id, "state": task.state.value, "alert": task.alert_id,
                                          "area": task.area, "assignee": task.assignee}))
    return frames


async def _stream(request: Request, services: Services, access: Access, after: int) -> AsyncIterator[str]:
    seen: dict[int, str] = {}
    seen_tasks: dict[int, str] = {}
    idle_s = 0.0
    poll_s = services.settings.api.events_poll_s
    yield ": streetwatch events\n\n"
    while not await request.is_disconnected():
        frames, after = await _alert_changes(services, access, after)
        frames += await _command_changes(services, access, seen)
        frames += await _task_changes(services, access, seen_tasks)
        for frame in frames:
            yield frame
        idle_s = 0.0 if frames else idle_s + poll_s
        if idle_s >= KEEPALIVE_S:  # proxies close a silent connection
            idle_s = 0.0
            yield ": keepalive\n\n"
        await asyncio.sleep(poll_s)


@router.get("/events", summary="Server-Sent Events: alert changes (resumable), command progress and task orders",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request,
                 last_event_id: str | None = Header(None, description="resume after this alert event"),
                 since: int | None = Query(None, ge=0, le=MAX_ID,
                                           description="like Last-Event-ID, for clients without it"),
                 access: Access = Depends(authorized(Permission.read))) -> StreamingResponse:
    services = services_of(request)
    if last_event_id is not None:
        if not last_event_id.isdigit() or int(last_event_id) > MAX_ID:
            raise invalid("Last-Event-ID", f"{last_event_id!r} is not an event id")
        after = int(last_event_id)
    elif since is not None:
        after = since
    else:  # a new client starts with what happens from now on
        after = int(await services.db.fetch_value("SELECT COALESCE(MAX(id), 0) AS last FROM alert_history"))
    return StreamingResponse(_stream(request, services, access, after), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
