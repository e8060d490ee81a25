"""One reader of the event feeds per web process, whose events every connected client receives.

Each client used to poll the database itself (three kinds of query every ``api.events_poll_s``), so 500
open streams made thousands of queries a second. The hub reads once for the whole process, as soon as
PostgreSQL notifies a change of the tables it reads (:mod:`streetwatch.database.changes`; at most every
``MIN_GAP_S``) and every ``api.events_poll_s`` in any case (all there is on SQLite):
new alert history rows, new device online/offline rows (both through :class:`web.event_feeds.FeedReader`,
in id order), the progress of the newest commands and the states of the newest task orders; it writes
each event's frame once and hands the batch to every subscriber's queue. Each stream keeps what its caller may see.

A subscriber that falls ``MAX_BACKLOG`` batches behind is dropped: its stream ends and the browser
reconnects with ``Last-Event-ID``, catching up from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from control import CommandProgress
from duty.tasks import Task, Tasks
from streetwatch.database import DatabaseError
from streetwatch.database.changes import ChangeSignal
from web.command_areas import areas_of_command
from web.event_feeds import (
    ALERT_ROWS,
    DEVICE_ROWS,
    Cursor,
    Event,
    FeedReader,
    alert_events,
    device_events,
    frame,
    last_id,
)
from web.services import Services

logger = logging.getLogger(__name__)
MAX_BACKLOG = 1_000
MIN_GAP_S = 0.05  # between two reads of the feeds, however often the database notifies
HUB_COMMANDS = 50  # the newest commands whose progress is followed
HUB_TASKS = 50  # the newest task orders whose state is followed
Batch = list[Event] | None  # None: the subscription has ended


class Subscription:
    """A client's queue of event batches."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()

    def offer(self, batch: list[Event]) -> bool:
        """Queue the batch; False when the client is too far behind (then it is told to go)."""
        if self.queue.qsize() >= MAX_BACKLOG:
            self.queue.put_nowait(None)
            return False
        self.queue.put_nowait(batch)
        return True


class EventHub:
    """Polls the feeds every ``api.events_poll_s`` for all of the process's streams."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._subscribers: set[Subscription] = set()
        self._alerts = FeedReader(ALERT_ROWS, 0)
        self._devices = FeedReader(DEVICE_ROWS, 0)
        self._commands: dict[int, str] = {}
        self._command_areas: dict[int, frozenset[str]] = {}
        self._tasks: dict[int, str] = {}
        self._failing = False

    @property
    def position(self) -> Cursor:
        """Where the hub's feeds stand: every event up to here has been handed out."""
        return Cursor(self._alerts.after, self._devices.after)

    async def start(self) -> None:
        db = self.services.db
        self._alerts.after = await last_id(db, ALERT_ROWS)
        self._devices.after = await last_id(db, DEVICE_ROWS)
        await self._command_changes()  # the current state is known; changes from here on are events
        await self._task_changes()

    def subscribe(self) -> tuple[Subscription, Cursor]:
        """A new subscription and the hub's position: it receives every batch after that position."""
        subscription = Subscription()
        self._subscribers.add(subscription)
        return subscription, self.position

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    async def run(self, changes: ChangeSignal) -> None:
        """Read the feeds when the database says they changed, and every ``api.events_poll_s`` regardless."""
        poll_s = self.services.settings.api.events_poll_s
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            batch = await self._poll_once()
            if batch:
                for subscription in list(self._subscribers):
                    if not subscription.offer(batch):
                        self._subscribers.discard(subscription)
            await changes.wait(poll_s)
            # A command's deliveries can notify hundreds of times a second: read at most every MIN_GAP_S.
            await asyncio.sleep(max(0.0, MIN_GAP_S - (loop.time() - started)))

    async def _poll_once(self) -> list[Event]:
        try:
            batch = await alert_events(self.services, await self._alerts.read(self.services.db),
                                       self._devices.after)
            batch += await device_events(self.services, await self._devices.read(self.services.db),
                                         self._alerts.after)
            batch += await self._command_changes()
            batch += await self._task_changes()
        except DatabaseError as exc:
            if not self._failing:  # once per outage, as the gateway logs one
                logger.error("events: cannot read the database: %s; retrying every poll", exc)
            self._failing = True
            return []
        if self._failing:
            logger.info("events: reading the database again")
        self._failing = False
        return batch

    async def _command_changes(self) -> list[Event]:
        events = []
        followed: dict[int, str] = {}
        for progress in await self.services.commands.recent(limit=HUB_COMMANDS):
            command_id = progress.command.id
            followed[command_id] = f"{progress.status}:{progress.summary}"
            if self._commands.get(command_id) == followed[command_id]:
                continue
            areas = self._command_areas.get(command_id) or await areas_of_command(self.services.db, command_id)
            if areas:  # a command's devices do not change once its deliveries are written
                self._command_areas[command_id] = areas
            events.append(Event("command", 0, areas, command_frame(progress)))
        self._commands = followed
        self._command_areas = {c: a for c, a in self._command_areas.items() if c in followed}
        return events

    async def _task_changes(self) -> list[Event]:
        events = []
        followed: dict[int, str] = {}
        for task in await Tasks(self.services.db).list(limit=HUB_TASKS):
            followed[task.id] = task.state.value
            if self._tasks.get(task.id) != followed[task.id]:
                events.append(Event("task", 0, frozenset({task.area}), task_frame(task)))
        self._tasks = followed
        return events


def task_frame(task: Task) -> str:
    """A ``task`` event: a task order's state (no id, like commands: a reconnecting client gets the state)."""
    return frame("task", {"task": task.id, "state": task.state.value, "alert": task.alert_id, "area": task.area,
                          "assignee": task.assignee})


def command_frame(progress: CommandProgress) -> str:
    """A ``command`` event: a snapshot of the command's progress (no id: a reconnecting client gets the state)."""
    return frame("command", {"command": progress.command.id, "status": progress.status,
                             "counts": {s.value: n for s, n in progress.counts.items()},
                             "device_count": progress.command.device_count})


@asynccontextmanager
async def running_hub(services: Services) -> AsyncIterator[EventHub]:
    """The process's hub, polling until the block ends."""
    hub = EventHub(services)
    async with ChangeSignal.listening(services.settings.database) as changes:
        await hub.start()
        task = asyncio.create_task(hub.run(changes), name="events-hub")
        try:
            yield hub
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # our own cancellation still propagates
