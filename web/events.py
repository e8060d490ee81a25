"""``/api/v1/events``: Server-Sent Events of alert changes, device online/offline and command progress and task orders.

Alert changes come from the alert history that every raise, escalation, acknowledgement and clearing
writes (by the gateway, the CLI or this API); device changes from the log the gateway writes when a device
goes offline or comes back. Both are read in id order by the process's :class:`web.event_hub.EventHub`,
and each event's id is the position in both (``ALERT-DEVICE``), so a client that reconnects with
``Last-Event-ID`` gets what it missed, from the database. Command progress is a snapshot (``command``
events, without an id), and so are task orders' states (``task`` events): a client receives the current
state when it connects, then the changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from duty.tasks import Tasks
from people import Permission
from web.auth import Access, authorized
from web.command_areas import commands_in_areas
from web.errors import invalid
from web.event_feeds import ALERT_ROWS, CURSOR_PATTERN, DEVICE_ROWS, Cursor, Event, catch_up, last_id
from web.event_hub import EventHub, command_frame, task_frame
from web.models import ERROR_RESPONSES
from web.services import Services

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERROR_RESPONSES)
KEEPALIVE_S = 15.0
DISCONNECT_CHECK_S = 5.0
_RECENT_COMMANDS = 20
_RECENT_TASKS = 20


async def _current_commands(services: Services, access: Access) -> list[str]:
    frames = []
    for command_id in await commands_in_areas(services.db, access.device_areas(), limit=_RECENT_COMMANDS):
        frames.append(command_frame(await services.commands.progress(command_id)))
    return frames


async def _current_tasks(services: Services, access: Access) -> list[str]:
    tasks = await Tasks(services.db).list(areas=access.device_areas(), limit=_RECENT_TASKS)
    return [task_frame(task) for task in tasks]


def _new(event: Event, position: Cursor) -> bool:
    """Not given already (another process's hub, or the catch-up, may be ahead of this one's)."""
    if event.feed == "alert":
        return event.seq > position.alert
    if event.feed == "device":
        return event.seq > (position.device or 0)
    return True


async def _stream(request: Request, hub: EventHub, access: Access, start: Cursor) -> AsyncIterator[str]:
    subscription, here = hub.subscribe()
    try:
        yield ": streetwatch events\n\n"
        for frame in [*await _current_commands(hub.services, access), *await _current_tasks(hub.services, access)]:
            yield frame
        for event in await catch_up(hub.services, start, here):
            if event.visible_to(access.sees):
                yield event.frame
        position = Cursor(max(start.alert, here.alert), max(start.device or 0, here.device or 0))
        quiet_s = 0.0
        while True:
            try:
                batch = await asyncio.wait_for(subscription.queue.get(), DISCONNECT_CHECK_S)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                quiet_s += DISCONNECT_CHECK_S
                if quiet_s >= KEEPALIVE_S:  # proxies close a silent connection
                    quiet_s = 0.0
                    yield ": keepalive\n\n"
                continue
            if batch is None:  # too far behind: the client reconnects and catches up
                return
            for event in batch:
                if _new(event, position) and event.visible_to(access.sees):
                    yield event.frame
    finally:
        hub.unsubscribe(subscription)


@router.get("/events", summary="Server-Sent Events: alert changes and device online/offline (resumable), "
                                "command progress and task orders",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request,
                 last_event_id: str | None = Header(None, description="resume after this event (its id)"),
                 since: str | None = Query(None, pattern=CURSOR_PATTERN,
                                           description="like Last-Event-ID, for clients without it"),
                 access: Access = Depends(authorized(Permission.read))) -> StreamingResponse:
    start = None
    if last_event_id is not None:
        start = Cursor.parse(last_event_id)
        if start is None:
            raise invalid("Last-Event-ID", f"{last_event_id!r} is not an event id")
    elif since is not None:
        start = Cursor.parse(since)
        if start is None:
            raise invalid("since", f"{since!r} is not an event id")
    hub: EventHub = request.app.state.events
    if start is None:  # a new client starts with what happens from now on (read before the answer starts)
        start = Cursor(await last_id(hub.services.db, ALERT_ROWS), await last_id(hub.services.db, DEVICE_ROWS))
    return StreamingResponse(_stream(request, hub, access, start), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
