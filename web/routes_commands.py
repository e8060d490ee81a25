"""``/api/v1/commands`` and ``/api/v1/approvals``: dim, switch and schedule lamps; the two-person rule.

A command is created through the control package's own calls (``prepare`` and ``CommandStore.create``),
the same as ``streetwatch lamp …``: a running gateway picks it up and delivers it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from control import (
    CommandProgress,
    CommandTarget,
    ControlError,
    Delivery,
    RegistryLookup,
    ScheduleLibrary,
    UnknownCommand,
    prepare,
)
from device_registry import Device, DeviceFilter, RegistryError
from people import ROOT_AREA, Permission
from web.approvals import ApprovalRefused, ApprovalRequest
from web.audit import record
from web.auth import Access, authorized, services_of
from web.command_areas import areas_of_command, commands_in_areas
from web.errors import ApiError, forbidden, invalid, not_found
from web.models import ERROR_RESPONSES, MAX_PAGE, CommandIn, ObjectId
from web.services import Services

router = APIRouter(prefix="/api/v1", tags=["commands"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
CREATE = Depends(authorized(Permission.commands_create))
CANCEL = Depends(authorized(Permission.commands_cancel))
APPROVE = Depends(authorized(Permission.commands_approve))


def _action(body: CommandIn) -> tuple[str, dict[str, Any]]:
    """The control action and its parameters; a parameter that does not belong is named."""
    if body.action != "dim" and body.level_pct is not None:
        raise invalid("level_pct", f"only for dim, not {body.action}")
    if body.action != "schedule" and body.schedule is not None:
        raise invalid("schedule", f"only for schedule, not {body.action}")
    if body.action == "dim":
        if body.level_pct is None:
            raise invalid("level_pct", "dim needs a level between 0 and 100")
        return "set_dim", {"level_pct": body.level_pct}
    if body.action == "schedule":
        if body.schedule is None:
            raise invalid("schedule", "name the lighting schedule to assign")
        return "set_schedule", {"schedule": body.schedule}
    if body.action == "clear_schedule":
        return "clear_schedule", {}
    return "switch", {"on": body.action == "on"}


async def _selected(services: Services, access: Access, ids: list[str]) -> list[Device]:
    """The devices of a selection, each visible to the caller; 404 naming how many are not."""
    wanted = set(ids)
    devices = [d for d in await services.registry.list(DeviceFilter(areas=access.device_areas())) if d.id in wanted]
    if len(devices) < len(wanted):
        missing = sorted(wanted - {d.id for d in devices})
        raise ApiError(404, "not_found", f"devices: {len(missing)} of the {len(wanted)} selected devices are not in "
                                         f"your areas (e.g. {missing[0]!r})", field="devices")
    return devices


async def _resolve(services: Services, access: Access, target: CommandTarget,
                   selection: list[str] | None = None) -> tuple[list[Device], str | None]:
    """The target's devices, and the level of the area when the target is one; 404 outside the caller's areas."""
    outside = ApiError(404, "not_found", f"target: no {target.kind} {target.value!r} in your areas",
                       field="target.value")
    level = None
    if selection is not None:
        devices = await _selected(services, access, selection)
    elif target.kind == "area":
        area = await services.people.areas.get(target.value)
        if area is None or not access.sees(area.id):
            raise outside
        level = area.level
        subtree = await services.people.areas.subtree_ids([area.id])
        devices = await services.registry.list(DeviceFilter(areas=subtree | ({""} if area.id == ROOT_AREA else set())))
        if not devices:
            raise invalid("target.value", f"area {area.id!r} has no devices")
    else:
        try:
            devices = await services.registry.resolve_target([str(target)])
        except RegistryError:
            raise outside from None
    if not any(access.sees(d.area) for d in devices):
        raise outside
    beyond = [d.id for d in devices if not access.everywhere and (d.area or ROOT_AREA) not in access.areas]
    if beyond:
        raise forbidden(f"target: {len(beyond)} of its {len(devices)} devices are outside the areas where your "
                        f"role allows {access.permission.value}")
    return devices, level


def _progress(progress: CommandProgress) -> dict[str, Any]:
    command = progress.command
    return {"id": command.id, "action": command.action.value, "params": command.params, "target": str(command.target),
            "requester": command.requester, "reason": command.reason, "created_at": command.created_at.isoformat(),
            "expires_at": command.expires_at.isoformat(), "device_count": command.device_count,
            "status": progress.status, "counts": {s.value: n for s, n in progress.counts.items()},
            "cancelled_at": command.cancelled_at.isoformat() if command.cancelled_at else None}


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {"device": delivery.device_id, "status": delivery.status.value, "attempts": delivery.attempts,
            "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
            "finished_at": delivery.finished_at.isoformat() if delivery.finished_at else None,
            "error": delivery.error}


def request_view(request: ApprovalRequest, now: Any) -> dict[str, Any]:
    return {"id": request.id, "state": request.state_at(now), "requested_by": request.requested_by,
            "requested_at": request.requested_at.isoformat(), "expires_at": request.expires_at.isoformat(),
            "target": str(request.target), "action": request.action.value, "params": request.params,
            "device_count": len(request.device_ids), "why": request.why, "reason": request.reason,
            "decided_by": request.decided_by, "command_id": request.command_id}


@router.post("/commands", status_code=201,
             summary="Dim, switch or schedule a device, group, site, tag, area or selection",
             responses={202: {"description": "waiting for a second person to approve it"}})
async def create_command(body: CommandIn, request: Request, response: Response,
                         access: Access = CREATE) -> dict[str, Any]:
    services = services_of(request)
    action_name, params = _action(body)
    if (body.target.kind == "selection") != (body.devices is not None):
        raise invalid("devices", "a selection target lists its devices, and only a selection does")
    label = f"{len(set(body.devices))} devices" if body.devices is not None else body.target.value
    try:
        target = CommandTarget(body.target.kind, label)
    except ControlError as exc:
        raise invalid("target.value", str(exc)) from None
    devices, level = await _resolve(services, access, target, body.devices)
    area = target.value if target.kind == "area" else (devices[0].area or ROOT_AREA)
    schedules = ScheduleLibrary.load(services.settings.schedules_dir) if action_name == "set_schedule" else None
    try:
        action, canonical, capable, skipped = await prepare(RegistryLookup(services.registry), target,
                                                            action_name, params, schedules=schedules, devices=devices)
    except ControlError as exc:
        field = "schedule" if action_name == "set_schedule" else "target"
        await record(services, access, action="command.create", target=str(target), area=area,
                     result=f"refused: {exc}")
        raise invalid(field, str(exc)) from None
    api = services.settings.api
    ttl_s = body.ttl_s or services.settings.control.command_ttl_s
    why = None
    if len(capable) > api.approval_threshold:
        why = f"{len(capable)} devices, more than api.approval_threshold ({api.approval_threshold})"
    elif level is not None and level in api.approval_levels:
        why = f"a whole {level}"
    if why is not None:
        pending = await services.approvals.request(
            requested_by=access.caller.user, target=target, action=action, params=canonical,
            device_ids=[d.id for d in capable], device_areas=frozenset(d.area or ROOT_AREA for d in capable),
            reason=body.reason, ttl_s=ttl_s, why=why, now=services.clock.now(),
            lifetime=timedelta(seconds=api.approval_ttl_s))
        await record(services, access, action="command.request", target=str(target), area=area,
                     result="awaiting_approval", detail={"approval": pending.id, "why": why, **canonical})
        response.status_code = 202
        return {"state": "awaiting_approval", "approval": request_view(pending, services.clock.now())}
    command = await services.commands.create(target, action, canonical, [d.id for d in capable],
                                             requester=access.caller.user, reason=body.reason, ttl_s=ttl_s)
    await record(services, access, action="command.create", target=str(target), area=area, result="queued",
                 detail={"command": command.id, "devices": len(capable), **canonical})
    progress = await services.commands.progress(command.id)
    return {"state": "queued", "command": _progress(progress), "skipped": [{"device": d, "why": w} for d, w in skipped]}


@router.get("/commands", summary="The newest commands that touch the caller's areas")
async def list_commands(request: Request, limit: int = Query(50, ge=1, le=MAX_PAGE),
                        access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    ids = await commands_in_areas(services.db, access.device_areas(), limit=limit)
    return {"commands": [_progress(await services.commands.progress(i)) for i in ids]}


async def _visible_command(services: Services, access: Access,
                           command_id: int) -> tuple[CommandProgress, frozenset[str]]:
    try:
        progress = await services.commands.progress(command_id)
    except UnknownCommand:
        raise not_found(f"command {command_id}") from None
    areas = frozenset(a or ROOT_AREA for a in await areas_of_command(services.db, command_id)) or {ROOT_AREA}
    if not any(access.sees(a) for a in areas):
        raise not_found(f"command {command_id}")
    return progress, frozenset(areas)


@router.get("/commands/{command_id}", summary="A command with its per-device deliveries")
async def show_command(command_id: ObjectId, request: Request, access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    progress, _ = await _visible_command(services, access, command_id)
    deliveries = await services.commands.deliveries(command_id, limit=10_000)
    return {**_progress(progress), "deliveries": [_delivery(d) for d in deliveries]}


@router.post("/commands/{command_id}/cancel", summary="Cancel the deliveries not yet done")
async def cancel_command(command_id: ObjectId, request: Request, access: Access = CANCEL) -> dict[str, Any]:
    services = services_of(request)
    _, areas = await _visible_command(services, access, command_id)
    for area in sorted(areas):
        access.check(area, f"command {command_id}")
    cancelled = await services.commands.cancel(command_id)
    await record(services, access, action="command.cancel", target=str(command_id), area=min(areas),
                 result="ok", detail={"cancelled_deliveries": cancelled})
    return {**_progress(await services.commands.progress(command_id)), "cancelled_deliveries": cancelled}


@router.get("/approvals", summary="Commands waiting for (or decided by) a second person, in the caller's areas")
async def list_approvals(request: Request, open_only: bool = Query(False, alias="open"),
                         access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    now = services.clock.now()
    requests = await services.approvals.list(open_only=open_only)
    return {"approvals": [request_view(r, now) for r in requests if any(access.sees(a) for a in r.device_areas)]}


@router.post("/approvals/{request_id}/approve", summary="Approve another person's command: it is queued now")
async def approve(request_id: ObjectId, request: Request, access: Access = APPROVE) -> dict[str, Any]:
    services = services_of(request)
    try:
        pending = await services.approvals.get(request_id)
    except ApprovalRefused:
        raise not_found(f"approval request {request_id}") from None
    if not any(access.sees(a) for a in pending.device_areas):
        raise not_found(f"approval request {request_id}")
    for area in sorted(pending.device_areas):
        access.check(area, f"approval request {request_id}")
    area = min(pending.device_areas)
    try:
        command = await services.approvals.approve(request_id, by=access.caller.user, now=services.clock.now(),
                                                   commands=services.commands)
    except ApprovalRefused as exc:
        await record(services, access, action="command.approve", target=str(request_id), area=area,
                     result=f"refused: {exc}")
        raise ApiError(exc.status, "forbidden" if exc.status == 403 else "conflict", str(exc)) from None
    await record(services, access, action="command.approve", target=str(request_id), area=area, result="queued",
                 detail={"command": command.id, "requested_by": pending.requested_by})
    return {"state": "queued", "command": _progress(await services.commands.progress(command.id))}
