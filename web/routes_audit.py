"""``/api/v1/audit``: the audit log of the caller's areas (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from people import Permission
from web.auth import Access, authorized, services_of
from web.errors import invalid
from web.models import ERROR_RESPONSES, MAX_PAGE

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/audit", summary="Who changed what, where from, with what result; newest first")
async def audit_log(request: Request, user: str | None = Query(None, max_length=64),
                    since: str | None = Query(None, description="ISO 8601 time"),
                    limit: int = Query(100, ge=1, le=MAX_PAGE),
                    access: Access = Depends(authorized(Permission.audit_read))) -> dict[str, Any]:
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise invalid("since", f"{since!r} is not an ISO 8601 time") from None
    entries = await services_of(request).people.audit.list(actor=user, since=start, limit=limit,
                                                           areas=None if access.everywhere else access.areas)
    return {"entries": [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "role": e.role, "area": e.area,
                         "address": e.address, "action": e.action, "target": e.target, "detail": e.detail,
                         "result": e.result} for e in entries]}
