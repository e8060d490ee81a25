"""``/api/v1/session`` (log in, log out) and ``/api/v1/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from people import Permission
from web.auth import SESSION_COOKIE, Access, authorized, check_rate, client_address, services_of
from web.errors import ApiError, unauthenticated
from web.models import ERROR_RESPONSES, LoginIn

router = APIRouter(prefix="/api/v1", tags=["session"], responses=ERROR_RESPONSES)
PUBLIC_ROUTES = frozenset({("POST", "/api/v1/session")})


@router.post("/session", summary="Log in: sets the session cookie, returns the CSRF token")
async def login(body: LoginIn, request: Request, response: Response) -> dict[str, Any]:
    services = services_of(request)
    address = client_address(request)
    check_rate(request, f"address:{address}")
    now = services.clock.now()
    logins = services.people.logins
    locked_until = await logins.locked_out(body.user, address, now=now)
    if locked_until is not None:
        wait = max(1, int((locked_until - now).total_seconds()))
        await services.people.audit.record(actor=body.user, role="", area="root", address=address,
                                           action="session.login", target=body.user, result="refused: locked out",
                                           now=now)
        raise ApiError(429, "locked_out", f"too many failed logins; try again in {wait} s",
                       headers={"Retry-After": str(wait)})
    user = await services.people.users.verify(body.user, body.password)
    if user is None:
        await logins.record_failure(body.user, address, now=now)
        await services.people.audit.record(actor=body.user, role="", area="root", address=address,
                                           action="session.login", target=body.user, result="refused: bad credentials",
                                           now=now)
        raise unauthenticated("wrong user name or password, or the user is disabled")
    started = await logins.start_session(user.name, now=now)
    response.set_cookie(SESSION_COOKIE, started.secret, httponly=True, samesite="strict",
                        secure=services.settings.api.cookie_secure, path="/",
                        max_age=int((started.session.expires_at - now).total_seconds()))
    await services.people.audit.record(actor=user.name, role="", area="root", address=address,
                                       action="session.login", target=user.name, result="ok", now=now)
    return {"user": user.name, "csrf_token": started.session.csrf_token,
            "expires_at": started.session.expires_at.isoformat()}


@router.delete("/session", summary="Log out")
async def logout(request: Request, response: Response,
                 access: Access = Depends(authorized(Permission.read))) -> dict[str, Any]:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is not None:
        await services_of(request).people.logins.end_session(cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"user": access.caller.user, "logged_out": cookie is not None}


@router.get("/me", summary="Who the caller is, their grants and the areas they may see")
async def me(access: Access = Depends(authorized(Permission.read))) -> dict[str, Any]:
    caller = access.caller
    return {"user": caller.user, "via": caller.via,
            "grants": [{"role": g.role.value, "area": g.area} for g in caller.grants],
            "permissions": sorted(p.value for p in Permission if caller.may(p))}
