"""``/api/v1/areas`` and ``/api/v1/devices``: the registry as the caller's areas let them see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response

from device_registry import Device, DeviceFilter, DeviceStatus, DeviceSummary
from people import ROOT_AREA, Area, Permission
from telemetry_store.timeparse import parse_duration
from web.auth import Access, authorized, services_of
from web.errors import invalid, not_found
from web.geojson import feature_collection
from web.geojson_cache import cached_response
from web.models import ERROR_RESPONSES, MAX_PAGE

router = APIRouter(prefix="/api/v1", tags=["areas and devices"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
MAX_HISTORY_POINTS = 50_000
_DAY = timedelta(days=1)
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 12, 31, tzinfo=UTC)


def _area(area: Area) -> dict[str, Any]:
    return {"id": area.id, "name": area.name, "parent": area.parent, "level": area.level,
            "timezone": area.timezone, "path": area.path}


def device_summary(device: DeviceSummary) -> dict[str, Any]:
    """A device without its address (which may hold MQTT credentials)."""
    return {"id": device.id, "kind": device.kind, "profile": device.profile, "transport": device.address.transport,
            "site": device.site, "area": device.area or ROOT_AREA, "status": device.status,
            "groups": device.groups, "tags": device.tags,
            "location": {"latitude": device.location.latitude, "longitude": device.location.longitude,
                         "landmark": device.location.landmark}}


def json_response(body: dict[str, Any]) -> Response:
    """Plain dicts, lists, strings and numbers written by msgspec: a listing of thousands of devices is written
    several times faster than by FastAPI's generic encoder, which first walks every value."""
    return Response(msgspec.json.encode(body), media_type="application/json")


@router.get("/areas", summary="The areas the caller may see, parents before children")
async def list_areas(request: Request, access: Access = READ) -> dict[str, Any]:
    areas = await services_of(request).people.areas.list()
    return {"areas": [_area(a) for a in areas if access.sees(a.id)]}


@router.get("/areas/{area_id}", summary="One area and the areas directly under it")
async def show_area(area_id: str, request: Request, access: Access = READ) -> dict[str, Any]:
    area = await services_of(request).people.areas.get(area_id)
    if area is None or not access.sees(area.id):
        raise not_found(f"area {area_id!r}")
    children = [a.id for a in await services_of(request).people.areas.list(area.id) if a.parent == area.id]
    return {**_area(area), "children": children}


async def _filter(request: Request, access: Access, area: str | None, kind: str | None, status: str | None,
                  tag: list[str]) -> DeviceFilter:
    areas = access.device_areas()
    if area is not None:
        found = await services_of(request).people.areas.get(area)
        if found is None or not access.sees(found.id):
            raise invalid("area", f"no area {area!r} among yours")
        subtree = await services_of(request).people.areas.subtree_ids([found.id])
        wanted = subtree | ({""} if ROOT_AREA in subtree else set())
        areas = wanted if areas is None else (areas & wanted)
    elif areas is not None and ROOT_AREA in areas:
        areas = None
    try:
        parsed_status = DeviceStatus(status) if status is not None else None
    except ValueError:
        raise invalid("status", f"{status!r} is not one of {', '.join(s.value for s in DeviceStatus)}") from None
    tags: dict[str, str] = {}
    for pair in tag:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise invalid("tag", f"{pair!r} is not KEY=VALUE")
        tags[key] = value
    return DeviceFilter(kind=kind, status=parsed_status, tags=tags, areas=areas)


PAGE = Query(100, ge=1, le=MAX_PAGE, description=f"devices per page, at most {MAX_PAGE}")
AREA = Query(None, description="an area id: that area and every area under it")
TAG = Query([], description="KEY=VALUE, repeatable")


@router.get("/devices", summary="Devices in the caller's areas, filtered, a page at a time",
            response_model=dict[str, Any])
async def list_devices(request: Request, area: str | None = AREA, kind: str | None = None,
                       status: str | None = None, tag: list[str] = TAG,
                       cursor: str | None = Query(None, description="the next_cursor of the previous page"),
                       limit: int = PAGE, access: Access = READ) -> Response:
    where = await _filter(request, access, area, kind, status, tag)
    devices = await services_of(request).registry.summaries(where, after=cursor, limit=limit + 1)
    page = devices[:limit]
    return json_response({"devices": [device_summary(d) for d in page],
                          "next_cursor": page[-1].id if len(devices) > limit else None})


@router.get("/devices.geojson", summary="Devices in the caller's areas as a GeoJSON FeatureCollection, for maps",
            response_model=dict[str, Any])
async def devices_geojson(request: Request, area: str | None = AREA, kind: str | None = None,
                          status: str | None = None, tag: list[str] = TAG, access: Access = READ) -> Response:
    services = services_of(request)
    where = await _filter(request, access, area, kind, status, tag)

    async def build() -> bytes:
        return await feature_collection(services.db, where)

    condition, params = where.where()
    # The revision is read first: a change committed while the answer is built only makes it newer than its key.
    key = (await services.registry.revision(), condition, tuple(params))
    return cached_response(request, await services.geojson.get(key, build))


async def visible_device(request: Request, access: Access, device_id: str) -> Device:
    """The device, or 404 when it does not exist or lies outside the caller's areas."""
    device = await services_of(request).registry.get(device_id)
    if device is None or not access.sees(device.area):
        raise not_found(f"device {device_id!r}")
    return device


@router.get("/devices/{device_id}", summary="A device with its latest values and their units")
async def show_device(device_id: str, request: Request, access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    device = await visible_device(request, access, device_id)
    latest = await services.store.latest([device.id])
    values = [{"metric": v.metric, "value": v.value, "unit": await services.unit_of(device.profile, v.metric),
               "time": v.ts.isoformat()} for v in sorted(latest, key=lambda v: v.metric)]
    return {**device_summary(msgspec.json.decode(device.model_dump_json(), type=DeviceSummary)), "latest": values}


def _when(text: str | None, default: datetime, field: str) -> datetime:
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, f"{text!r} is not an ISO 8601 time such as 2026-12-01T08:00:00+08:00") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment <= LATEST:  # beyond these a day's arithmetic overflows
        raise invalid(field, f"{text!r} is outside {EARLIEST:%Y} … {LATEST:%Y}")
    return moment


@router.get("/devices/{device_id}/readings", summary="One metric's readings, raw or summarised per bucket",
            response_model=dict[str, Any])
async def readings(device_id: str, request: Request, metric: str = Query(..., min_length=1, max_length=64),
                   start: str | None = Query(None, alias="from", description="ISO 8601; default 24 h ago"),
                   end: str | None = Query(None, alias="to", description="ISO 8601; default now"),
                   bucket: str | None = Query(None, description="5m, 1h, 1d…; none: raw readings"),
                   access: Access = READ) -> Response:
    services = services_of(request)
    device = await visible_device(request, access, device_id)
    now = services.clock.now()
    hi = _when(end, now, "to")
    lo = _when(start, hi - _DAY, "from")
    if hi <= lo:
        raise invalid("to", "must be after from")
    unit = await services.unit_of(device.profile, metric)
    if bucket is None:
        found = await services.store.history(device.id, metric, lo, hi)
        if len(found) > MAX_HISTORY_POINTS:
            raise invalid("bucket", f"{len(found)} readings in that range; ask for buckets (e.g. bucket=1m)")
        return json_response({"device": device.id, "metric": metric, "unit": unit,
                              "readings": [{"time": r.ts.isoformat(), "value": r.value} for r in found]})
    try:
        width = parse_duration(bucket)
    except (ValueError, OverflowError) as exc:
        raise invalid("bucket", str(exc)) from None
    if (hi - lo) / width > MAX_HISTORY_POINTS:
        raise invalid("bucket", f"more than {MAX_HISTORY_POINTS} buckets; use a wider bucket or a shorter range")
    buckets = await services.store.buckets(device.id, metric, lo, hi, width)
    return json_response({"device": device.id, "metric": metric, "unit": unit, "bucket": bucket,
                          "buckets": [{"start": b.start.isoformat(), "min": b.min, "max": b.max, "avg": b.avg,
                                       "count": b.count} for b in buckets]})


@router.get("/devices/{device_id}/audit", summary="Audit entries about the device, its groups and its site, recorded "
                                                  "in the caller's areas; newest first")
async def device_audit(device_id: str, request: Request, limit: int = Query(20, ge=1, le=MAX_PAGE),
                       access: Access = READ) -> dict[str, Any]:
    device = await visible_device(request, access, device_id)
    targets = frozenset({device.id, f"site:{device.site}", *(f"group:{g}" for g in device.groups)})
    entries = await services_of(request).people.audit.list(
        targets=targets, limit=limit, areas=None if ROOT_AREA in access.visible else access.visible)
    # The caller's address stays in /audit (admins): the card shows who, what, and the result.
    return {"device": device.id, "entries": [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "role": e.role,
                                              "area": e.area, "action": e.action, "target": e.target,
                                              "detail": e.detail, "result": e.result} for e in entries]}
