"""``/api/v1/me/preferences``: the caller's own console preferences (language, alert sound).

Sessions only have a user; a token's preferences are those of the user it was made for.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from people import Permission
from web.auth import Access, authorized, services_of
from web.models import Input
from web.preferences import Language, Preference, Preferences

router = APIRouter(prefix="/api/v1", tags=["session"])
READ = Depends(authorized(Permission.read))


class PreferencesIn(Input):
    language: Language = Field(description="en or zh-CN")
    alert_sound: bool = Field(False, description="a sound when a red alert arrives")


def _out(preference: Preference) -> dict[str, Any]:
    return {"language": preference.language, "alert_sound": preference.alert_sound}


@router.get("/me/preferences", summary="The caller's console preferences")
async def show_preferences(request: Request, access: Access = READ) -> dict[str, Any]:
    return _out(await Preferences(services_of(request).db).of(access.caller.user))


@router.put("/me/preferences", summary="Change the caller's console preferences")
async def save_preferences(body: PreferencesIn, request: Request, access: Access = READ) -> dict[str, Any]:
    preference = Preference(body.language, body.alert_sound)
    await Preferences(services_of(request).db).save(access.caller.user, preference)
    return _out(preference)
