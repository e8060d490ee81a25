"""``/api/v1/alerts``: the alert log of the caller's areas; acknowledge and clear with a note."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from device_registry import DeviceFilter
from people import ROOT_AREA, Permission
from rules.alert_store import AlertFilter
from rules.alerts import Alert, AlertState, HistoryEntry
from rules.errors import AlertNotFound, AlertStateError
from rules.payload import projection
from web.audit import record
from web.auth import Access, authorized, services_of
from web.errors import conflict, invalid, not_found
from web.models import ERROR_RESPONSES, MAX_PAGE, NoteIn, ObjectId

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
MANAGE = Depends(authorized(Permission.alerts_manage))


def _alert(alert: Alert) -> dict[str, Any]:
    return {"id": alert.id, "rule": alert.rule, "device": alert.device_id, "device_kind": alert.device_kind,
            "site": alert.site, "severity": alert.severity, "peak_severity": alert.peak_severity,
            "state": alert.state.value, "metric": alert.metric, "value": alert.value, "threshold": alert.threshold,
            "message": alert.message, "hazard_point": alert.hazard.as_dict() if alert.hazard else None,
            "projection": projection(alert.context, alert.threshold), "raised_at": alert.raised_at.isoformat(),
            "updated_at": alert.updated_at.isoformat(),
            "acknowledged_by": alert.acknowledged_by, "ack_note": alert.ack_note,
            "closed_at": alert.closed_at.isoformat() if alert.closed_at else None}


def _history(entry: HistoryEntry) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "event": entry.event.value, "severity": entry.severity,
            "state": entry.state.value, "value": entry.value, "actor": entry.actor, "note": entry.note}


async def _area_of_device(request: Request, device_id: str) -> str:
    device = await services_of(request).registry.get(device_id)
    return (device.area if device is not None else "") or ROOT_AREA


async def _visible_alert(request: Request, access: Access, alert_id: int) -> tuple[Alert, str]:
    try:
        alert = await services_of(request).alerts.get(alert_id)
    except AlertNotFound:
        raise not_found(f"alert {alert_id}") from None
    area = await _area_of_device(request, alert.device_id)
    if not access.sees(area):
        raise not_found(f"alert {alert_id}")
    return alert, area


@router.get("/alerts", summary="Alerts of devices in the caller's areas, newest change first")
async def list_alerts(request: Request, severity: list[str] = Query([]), state: list[str] = Query([]),
                      kind: list[str] = Query([]), device: list[str] = Query([]),
                      limit: int = Query(100, ge=1, le=MAX_PAGE), access: Access = READ) -> dict[str, Any]:
    for value in state:
        if value not in AlertState.__members__:
            raise invalid("state", f"{value!r} is not one of {', '.join(s.value for s in AlertState)}")
    devices = list(device)
    areas = access.device_areas()
    if areas is not None:
        visible = {d.id for d in await services_of(request).registry.list(DeviceFilter(areas=areas,
                                                                                       include_retired=True))}
        devices = [d for d in devices if d in visible] if devices else sorted(visible)
        if not devices:
            return {"alerts": []}
    where = AlertFilter(severities=severity, states=state, kinds=kind, devices=devices, limit=limit)
    return {"alerts": [_alert(a) for a in await services_of(request).alerts.list_alerts(where)]}


@router.get("/alerts/{alert_id}", summary="One alert with its history")
async def show_alert(alert_id: ObjectId, request: Request, access: Access = READ) -> dict[str, Any]:
    alert, _ = await _visible_alert(request, access, alert_id)
    history = await services_of(request).alerts.history(alert_id)
    return {**_alert(alert), "history": [_history(h) for h in history]}


async def _change(request: Request, access: Access, alert_id: int, note: str | None, action: str) -> dict[str, Any]:
    services = services_of(request)
    alert, area = await _visible_alert(request, access, alert_id)
    access.check(area, f"alert {alert_id}")
    change = services.alerts.acknowledge if action == "ack" else services.alerts.clear
    try:
        changed = await change(alert_id, access.caller.user, note, services.clock.now())
    except AlertStateError as exc:
        await record(services, access, action=f"alert.{action}", target=str(alert_id), area=area,
                     result=f"refused: {exc}", detail={"note": note})
        raise conflict(str(exc)) from None
    await record(services, access, action=f"alert.{action}", target=str(alert_id), area=area, result="ok",
                 detail={"note": note, "state": changed.alert.state.value, "device": alert.device_id})
    return _alert(changed.alert)


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert, with a note")
async def ack_alert(alert_id: ObjectId, body: NoteIn, request: Request, access: Access = MANAGE) -> dict[str, Any]:
    return await _change(request, access, alert_id, body.note, "ack")


@router.post("/alerts/{alert_id}/clear", summary="Clear (and close) an alert by hand")
async def clear_alert(alert_id: ObjectId, body: NoteIn, request: Request, access: Access = MANAGE) -> dict[str, Any]:
    return await _change(request, access, alert_id, body.note, "clear")
