"""Task orders (任务指令): close the underpass, send a pump, inspect a lamp — dispatched to a person,
accepted, on site, done (or cancelled), each step with who and when.

A task type's SLA says how soon it must be accepted (``task_types`` in the duty files, 30 minutes by
default); :mod:`duty.task_sla` escalates the ones that are not.

>>> Move.accept.allowed_from
(<TaskState.dispatched: 'dispatched'>,)
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from duty.errors import DutyError
from rules.alert_rows import time_param, time_value
from streetwatch.database import Database


class TaskState(StrEnum):
    dispatched = "dispatched"
    accepted = "accepted"
    onsite = "onsite"
    done = "done"
    cancelled = "cancelled"


class Move(StrEnum):
    accept = "accept"
    onsite = "onsite"
    done = "done"
    cancel = "cancel"

    @property
    def to(self) -> TaskState:
        return _MOVES[self][0]

    @property
    def allowed_from(self) -> tuple[TaskState, ...]:
        return _MOVES[self][1]


_MOVES: dict[Move, tuple[TaskState, tuple[TaskState, ...]]] = {
    Move.accept: (TaskState.accepted, (TaskState.dispatched,)),
    Move.onsite: (TaskState.onsite, (TaskState.accepted,)),
    Move.done: (TaskState.done, (TaskState.accepted, TaskState.onsite)),
    Move.cancel: (TaskState.cancelled, (TaskState.dispatched, TaskState.accepted, TaskState.onsite)),
}


class TaskError(DutyError):
    """No such task, or a step its state does not allow."""


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    kind: str
    title: str
    area: str
    assignee: str
    state: TaskState
    alert_id: int | None
    created_at: datetime
    created_by: str
    accept_by: datetime
    sla_breached_at: datetime | None


@dataclass(frozen=True, slots=True)
class TaskEvent:
    at: datetime
    state: TaskState
    by: str
    note: str


def _task(row: Mapping[str, object]) -> Task:
    created, accept_by = time_value(row["created_at"]), time_value(row["accept_by"])
    assert created is not None
    assert accept_by is not None
    alert = row["alert_id"]
    return Task(int(str(row["id"])), str(row["kind"]), str(row["title"]), str(row["area"]), str(row["assignee"]),
                TaskState(str(row["state"])), None if alert is None else int(str(alert)), created,
                str(row["created_by"]), accept_by, time_value(row["sla_breached_at"]))


class Tasks:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, kind: str, title: str, area: str, assignee: str, by: str, now: datetime,
                     accept_within_s: float, alert_id: int | None = None) -> Task:
        async with self.db.transaction() as tx:
            task_id = await self.insert(tx, kind=kind, title=title, area=area, assignee=assignee, by=by, now=now,
                                        accept_within_s=accept_within_s, alert_id=alert_id)
        assert task_id is not None
        return await self.get(task_id)

    async def insert(self, tx: Database, *, kind: str, title: str, area: str, assignee: str, by: str,
                     now: datetime, accept_within_s: float, alert_id: int | None = None,
                     request_key: str | None = None) -> int | None:
        """Dispatch a task inside the transaction ``tx``; None when ``request_key`` was dispatched already."""
        if not title.strip() or not kind.strip():
            raise TaskError("a task needs a type and a title")
        task_id = await tx.fetch_value(
            "INSERT INTO duty_tasks (kind, title, area, assignee, state, alert_id, created_at, created_by, "
            "accept_by, request_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (kind, title.strip(), area, assignee, TaskState.dispatched.value, alert_id, time_param(tx, now), by,
             time_param(tx, now + timedelta(seconds=accept_within_s)), request_key))
        if task_id is None:
            return None
        await self._event(tx, int(task_id), TaskState.dispatched, by, now, f"to {assignee or '(nobody)'}")
        return int(task_id)

    async def move(self, task_id: int, move: Move, *, by: str, now: datetime, note: str = "") -> Task:
        """One step; :class:`TaskError` when the task's state does not allow it."""
        async with self.db.transaction() as tx:
            task = await self._get(tx, task_id)
            if task.state not in move.allowed_from:
                raise TaskError(f"task {task_id} is {task.state.value}; it cannot go to {move.to.value} from there")
            await tx.execute("UPDATE duty_tasks SET state = ? WHERE id = ?", (move.to.value, task_id))
            await self._event(tx, task_id, move.to, by, now, note)
        return await self.get(task_id)

    async def get(self, task_id: int) -> Task:
        return await self._get(self.db, task_id)

    async def _get(self, db: Database, task_id: int) -> Task:
        row = await db.fetch_one("SELECT * FROM duty_tasks WHERE id = ?", (task_id,))
        if row is None:
            raise TaskError(f"no task {task_id}")
        return _task(row)

    async def list(self, *, areas: frozenset[str] | None = None, states: tuple[str, ...] = (),
                   limit: int = 100, alert_id: int | None = None) -> builtins.list[Task]:
        clauses: builtins.list[str] = ["1 = 1"]
        params: builtins.list[object] = []
        if alert_id is not None:
            clauses.append("alert_id = ?")
            params.append(alert_id)
        if areas is not None:
            clauses.append(f"area IN ({', '.join('?' for _ in areas) or 'NULL'})")
            params += sorted(areas)
        if states:
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            params += list(states)
        rows = await self.db.fetch_all(f"SELECT * FROM duty_tasks WHERE {' AND '.join(clauses)} ORDER BY id DESC "
                                       "LIMIT ?", [*params, limit])
        return [_task(row) for row in rows]

    async def events(self, task_id: int) -> builtins.list[TaskEvent]:
        rows = await self.db.fetch_all("SELECT * FROM duty_task_events WHERE task_id = ? ORDER BY id", (task_id,))
        out = []
        for row in rows:
            at = time_value(row["at"])
            assert at is not None
            out.append(TaskEvent(at, TaskState(str(row["state"])), str(row["by_whom"]), str(row["note"])))
        return out

    async def overdue(self, now: datetime) -> builtins.list[Task]:
        """Dispatched tasks past their acceptance deadline, not yet escalated."""
        rows = await self.db.fetch_all("SELECT * FROM duty_tasks WHERE state = ? AND accept_by <= ? "
                                       "AND sla_breached_at IS NULL ORDER BY id",
                                       (TaskState.dispatched.value, time_param(self.db, now)))
        return [_task(row) for row in rows]

    async def _event(self, tx: Database, task_id: int, state: TaskState, by: str, now: datetime, note: str) -> None:
        await tx.execute("INSERT INTO duty_task_events (task_id, at, state, by_whom, note) VALUES (?, ?, ?, ?, ?)",
                         (task_id, time_param(tx, now), state.value, by, note))
