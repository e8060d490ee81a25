"""``/api/v1/groups``, ``/api/v1/schedules`` and ``/api/v1/energy``: lighting groups, schedules, energy used."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from control import AssignmentStore, ControlError, ScheduleLibrary, lamp_days, schedules_by_assignment, summarise
from device_registry import DeviceFilter
from people import ROOT_AREA, Permission
from web.auth import Access, authorized, services_of
from web.errors import invalid, not_found
from web.models import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["lighting"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
MAX_ENERGY_DAYS = 366
EARLIEST, LATEST = date(1970, 1, 1), date(9000, 12, 31)


@router.get("/groups", summary="Lighting groups and hazard points with their devices in the caller's areas")
async def list_groups(request: Request, access: Access = READ) -> dict[str, Any]:
    devices = await services_of(request).registry.list(DeviceFilter(areas=access.device_areas()))
    counts = Counter(group for device in devices for group in device.groups)
    return {"groups": [{"name": name, "devices": n} for name, n in sorted(counts.items())]}


@router.get("/groups/{name}", summary="The devices of a group that lie in the caller's areas")
async def show_group(name: str, request: Request, access: Access = READ) -> dict[str, Any]:
    devices = await services_of(request).registry.list(DeviceFilter(group=name, areas=access.device_areas()))
    if not devices:
        raise not_found(f"group {name!r}")
    return {"name": name, "devices": [{"id": d.id, "kind": d.kind, "area": d.area or ROOT_AREA,
                                       "status": d.status.value} for d in devices]}


def _library(request: Request) -> ScheduleLibrary:
    return ScheduleLibrary.load(services_of(request).settings.schedules_dir)


@router.get("/schedules", summary="The lighting schedules (the same for every area)")
async def list_schedules(request: Request, access: Access = READ) -> dict[str, Any]:
    library = _library(request)
    return {"schedules": [{"name": name, "description": library.get(name).description} for name in library.names()]}


@router.get("/schedules/{name}", summary="One lighting schedule with its steps and exceptions")
async def show_schedule(name: str, request: Request, access: Access = READ) -> dict[str, Any]:
    try:
        schedule = _library(request).get(name)
    except ControlError:
        raise not_found(f"schedule {name!r}") from None
    return schedule.model_dump(mode="json")


@router.get("/energy", summary="Daily kWh of the lamps of an area, and the saving against full power")
async def energy(request: Request, start: date = Query(..., alias="from", description="first day, local"),
                 end: date = Query(..., alias="to", description="last day, local, included"),
                 area: str | None = Query(None, description="an area id (default: all the caller's)"),
                 by: Literal["lamp", "group", "site"] = "site", access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    for name, day in (("from", start), ("to", end)):
        if not EARLIEST <= day <= LATEST:  # beyond these the day's edges in UTC overflow
            raise invalid(name, f"{day} is outside {EARLIEST} … {LATEST}")
    if end < start:
        raise invalid("to", "the last day is before the first")
    if end - start > timedelta(days=MAX_ENERGY_DAYS):
        raise invalid("to", f"at most {MAX_ENERGY_DAYS} days at a time")
    areas = access.device_areas()
    if area is not None:
        found = await services.people.areas.get(area)
        if found is None or not access.sees(found.id):
            raise invalid("area", f"no area {area!r} among yours")
        subtree = await services.people.areas.subtree_ids([found.id]) | ({""} if found.id == ROOT_AREA else set())
        areas = subtree if areas is None else areas & subtree
    lamps = await services.registry.list(DeviceFilter(kind="lamp_controller", areas=areas))
    schedule_of = schedules_by_assignment(await AssignmentStore(services.db).all(), _library(request))
    rows = await lamp_days(services.store, lamps, start, end, services.settings.zone, schedule_of=schedule_of,
                           default_rated_power_w=services.settings.control.rated_power_w)
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, "lamps": len(lamps),
            "rows": summarise(rows, by)}


