"""``/api/v1/tasks``: task orders of the caller's areas; dispatch one, and move it a step.

The same library calls as ``streetwatch task …`` (:mod:`duty.tasks`); the SLA of a task type comes from
the duty files (``[duty] duty_dir``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from duty import DutyFileError, DutyPlan, load_duty
from duty.tasks import Move, Task, TaskError, Tasks
from people import ROOT_AREA, Permission
from rules.errors import AlertNotFound
from web.audit import record
from web.auth import Access, authorized, services_of
from web.errors import conflict, invalid, not_found
from web.models import ERROR_RESPONSES, MAX_ID, Input, ObjectId

router = APIRouter(prefix="/api/v1", tags=["tasks"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
MANAGE = Depends(authorized(Permission.alerts_manage))


class TaskIn(Input):
    type: str = Field(min_length=1, max_length=64, description="close_underpass, send_pump, inspect_lamp, …")
    title: str = Field(min_length=1, max_length=500)
    area: str = Field(min_length=1, max_length=64)
    assignee: str = Field(min_length=1, max_length=64, description="the user it is dispatched to")
    alert: int | None = Field(None, ge=1, le=2**63 - 1, description="the alert it answers")


class StepIn(Input):
    step: Literal["accept", "onsite", "done", "cancel"]
    note: str = Field("", max_length=2000)


def _task(task: Task) -> dict[str, Any]:
    return {"id": task.id, "type": task.kind, "title": task.title, "area": task.area, "assignee": task.assignee,
            "state": task.state.value, "alert": task.alert_id, "created_at": task.created_at.isoformat(),
            "created_by": task.created_by, "accept_by": task.accept_by.isoformat(),
            "sla_breached_at": task.sla_breached_at.isoformat() if task.sla_breached_at else None}


async def _visible(request: Request, access: Access, task_id: int) -> Task:
    try:
        task = await Tasks(services_of(request).db).get(task_id)
    except TaskError:
        raise not_found(f"task {task_id}") from None
    if not access.sees(task.area):
        raise not_found(f"task {task_id}")
    return task


@router.get("/tasks", summary="Task orders of the caller's areas, newest first")
async def list_tasks(request: Request, alert: int | None = Query(None, ge=1, le=MAX_ID, description="only those "
                                                                 "dispatched for this alert"),
                     access: Access = READ) -> dict[str, Any]:
    tasks = await Tasks(services_of(request).db).list(areas=access.device_areas(), alert_id=alert)
    return {"tasks": [_task(t) for t in tasks]}


@router.get("/tasks/assignees", summary="Who a task order in an area can be dispatched to: holders of a role there "
                                        "or in an area above it")
async def assignees(request: Request, area: str = Query(..., min_length=1, max_length=64),
                    access: Access = READ) -> dict[str, Any]:
    people = services_of(request).people
    found = await people.areas.get(area)
    if found is None or not access.sees(found.id):
        raise not_found(f"area {area}")
    above = {ROOT_AREA, *(part for part in found.path.split("/") if part)}
    users = {u.name: u for u in await people.users.list() if not u.disabled}
    holders = sorted({g.user for g in await people.grants.all() if g.area in above and g.user in users})
    return {"area": found.id, "assignees": [{"user": name, "display_name": users[name].display_name}
                                            for name in holders]}


@router.get("/tasks/{task_id}", summary="One task order with each of its steps")
async def show_task(task_id: ObjectId, request: Request, access: Access = READ) -> dict[str, Any]:
    task = await _visible(request, access, task_id)
    steps = await Tasks(services_of(request).db).events(task_id)
    return {**_task(task), "steps": [{"at": e.at.isoformat(), "state": e.state.value, "by": e.by, "note": e.note}
                                     for e in steps]}


@router.post("/tasks", status_code=201, summary="Dispatch a task order in one of the caller's areas")
async def create_task(body: TaskIn, request: Request, access: Access = MANAGE) -> dict[str, Any]:
    services = services_of(request)
    if await services.people.areas.get(body.area) is None:
        raise not_found(f"area {body.area}")
    access.check(body.area, f"area {body.area}")
    if await services.people.users.get(body.assignee) is None:
        raise invalid("assignee", f"no user {body.assignee!r}")
    if body.alert is not None:
        try:
            await services.alerts.get(body.alert)
        except AlertNotFound:
            raise invalid("alert", f"no alert {body.alert}") from None
    try:
        accept_within_s = load_duty(services.settings.duty.duty_dir).accept_within_s(body.type)
    except DutyFileError:  # broken duty files (logged by the gateway): the default SLA
        accept_within_s = DutyPlan().accept_within_s(body.type)
    task = await Tasks(services.db).create(kind=body.type, title=body.title, area=body.area, assignee=body.assignee,
                                           by=access.caller.user, now=services.clock.now(),
                                           accept_within_s=accept_within_s, alert_id=body.alert)
    await record(services, access, action="task.create", target=str(task.id), area=task.area, result="ok",
                 detail={"type": task.kind, "assignee": task.assignee})
    return _task(task)


@router.post("/tasks/{task_id}/steps", summary="Move a task order: accept, onsite, done or cancel")
async def move_task(task_id: ObjectId, body: StepIn, request: Request, access: Access = MANAGE) -> dict[str, Any]:
    services = services_of(request)
    task = await _visible(request, access, task_id)
    access.check(task.area, f"task {task_id}")
    try:
        moved = await Tasks(services.db).move(task_id, Move(body.step), by=access.caller.user,
                                              now=services.clock.now(), note=body.note)
    except TaskError as exc:
        await record(services, access, action=f"task.{body.step}", target=str(task_id), area=task.area,
                     result=f"refused: {exc}")
        raise conflict(str(exc)) from None
    await record(services, access, action=f"task.{body.step}", target=str(task_id), area=task.area, result="ok")
    return _task(moved)
