"""``/api/v1/water``: the rivers' sections of the caller's areas with today's GB 3838-2002 class, for the console.

The classes come from the same daily report as ``streetwatch water report`` (:mod:`hydrology.report`): a
section's class on a local day, the parameters that decide it, yesterday's class and the change. Each
section lists its probes (devices tagged ``section=<id>``) that the caller may see, so the map can paint
them by their section's class.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from device_registry import DeviceFilter
from hydrology import SectionStore
from hydrology.report import PROBE_KIND, daily_report
from hydrology.sections import SECTION_TAG
from people import ROOT_AREA, Permission
from web.auth import Access, authorized, services_of
from web.errors import invalid
from web.models import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["water"], responses=ERROR_RESPONSES)
READ = Depends(authorized(Permission.read))
EARLIEST, LATEST = date(1970, 1, 2), date(9000, 12, 31)


@router.get("/water/sections", summary="Each river section of the caller's areas with its class on a day, the "
                                       "deciding parameters, yesterday's class and the change, and its probes")
async def water_sections(request: Request, day: date | None = Query(None, alias="date",
                                                                    description="local day; default today"),
                         access: Access = READ) -> dict[str, Any]:
    services = services_of(request)
    zone = services.settings.zone
    chosen = day or services.clock.now().astimezone(zone).date()
    if not EARLIEST <= chosen <= LATEST:  # the day before and the day's edges must stay representable
        raise invalid("date", f"{chosen} is outside {EARLIEST} … {LATEST}")
    days = await daily_report(SectionStore(services.db), services.registry, services.store, chosen, zone)
    probes: dict[str, list[str]] = {}
    for probe in await services.registry.list(DeviceFilter(kind=PROBE_KIND, areas=access.device_areas())):
        section = probe.tags.get(SECTION_TAG)
        if section is not None:
            probes.setdefault(section, []).append(probe.id)
    return {"date": chosen.isoformat(), "sections": [
        {**d.row(), "area": d.section.area or ROOT_AREA, "probes": probes.get(d.section.id, []),
         "deciding_metrics": [] if d.classification is None else [p.metric for p in d.classification.deciding]}
        for d in days if access.sees(d.section.area or ROOT_AREA)]}
