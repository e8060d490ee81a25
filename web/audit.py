"""Every change made through the API is recorded, with its result, refused ones included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from web.auth import Access
from web.services import Services


async def record(services: Services, access: Access, *, action: str, target: str, area: str, result: str,
                 detail: Mapping[str, Any] | None = None) -> None:
    role, grant_area = access.role_and_area(area)
    await services.people.audit.record(
        actor=access.caller.user, role=role, area=area or grant_area, address=access.caller.address,
        action=action, target=target, result=result, now=services.clock.now(),
        detail={"via": access.caller.via, **(detail or {})})
