"""Authentication and the one authorization dependency every route goes through.

``Depends(authorized(Permission.x))`` answers, in this order:
  * 429 with ``Retry-After`` when the caller (token, session or address) is over its rate,
  * 401 when there are no valid credentials (bearer token, or session cookie),
  * 403 when a session's state-changing request lacks its CSRF token,
  * 403 when none of the caller's roles carries the permission anywhere,
and hands the route an :class:`Access`; the route then asks it about each object it touches, which
answers 404 for an object outside the caller's areas (existence is not revealed) and 403 for one the
caller may see but not change.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from people import ROOT_AREA, Caller, Permission
from web.errors import ApiError, forbidden, not_found, unauthenticated
from web.services import Services

SESSION_COOKIE = "sw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_rate(request: Request, key: str) -> None:
    wait = services_of(request).limiter.check(key)
    if wait is not None:
        raise ApiError(429, "rate_limited", f"too many requests; retry in {wait} s",
                       headers={"Retry-After": str(wait)})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(request: Request) -> Caller:
    """The caller from a bearer token, else from the session cookie (checking CSRF on changes); else 401."""
    services = services_of(request)
    now = services.clock.now()
    address = client_address(request)
    token = _bearer(request)
    if token is not None:
        check_rate(request, f"token:{token[:11]}")  # "sw_" + the token's id: the secret is not kept as a key
        caller = await services.people.caller_for_token(token, address=address, now=now)
        if caller is None:
            raise unauthenticated("the token is unknown, expired or revoked")
        return caller
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        check_rate(request, f"address:{address}")
        raise unauthenticated()
    check_rate(request, f"session:{cookie[:12]}")
    session = await services.people.logins.session(cookie, now=now)
    if session is None:
        raise unauthenticated("the session has ended; log in again")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise forbidden(f"missing or wrong {CSRF_HEADER} header (the session's CSRF token)")
    caller = await services.people.caller_for_user(session.user, address=address, via="session")
    if caller is None:
        raise unauthenticated("the user is disabled")
    return caller


@dataclass(frozen=True, slots=True)
class Access:
    """What the caller may do under the route's permission, and where."""

    caller: Caller
    permission: Permission
    areas: frozenset[str]       # where the permission holds
    visible: frozenset[str]     # where the caller may read

    @property
    def everywhere(self) -> bool:
        return ROOT_AREA in self.areas

    def device_areas(self, *, for_reading: bool = True) -> frozenset[str] | None:
        """The registry's area filter: None for the whole city, else the area ids ('' stands for the root)."""
        areas = self.visible if for_reading else self.areas
        return None if ROOT_AREA in areas else areas

    def sees(self, area: str) -> bool:
        return ROOT_AREA in self.visible or (area or ROOT_AREA) in self.visible

    def check(self, area: str, what: str) -> None:
        """404 when ``area`` is outside what the caller may see, 403 when they may see but not act there."""
        area = area or ROOT_AREA
        if not self.sees(area):
            raise not_found(what)
        if ROOT_AREA not in self.areas and area not in self.areas:
            raise forbidden(f"your role does not allow {self.permission.value} in area {area!r}")

    def role_and_area(self, area: str) -> tuple[str, str]:
        """The grant that allows this (for the audit log): its role and area."""
        grant = self.caller.grant_for(self.permission, area or ROOT_AREA)
        if grant is None and self.caller.grants:
            grant = next((g for g in self.caller.grants if g.area == ROOT_AREA), self.caller.grants[0])
        return (grant.role.value, grant.area) if grant else ("", area or ROOT_AREA)


Dependency = Callable[[Request], Awaitable[Access]]


def authorized(permission: Permission) -> Dependency:
    """The dependency for a route that needs ``permission``; routes declare it, the matrix test reads it."""
    async def dependency(request: Request) -> Access:
        caller = await authenticate(request)
        if not caller.may(permission):
            raise forbidden(f"none of your roles allows {permission.value}")
        return Access(caller, permission, caller.areas_for(permission), caller.areas_for(Permission.read))

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def permission_of(dependency: object) -> Permission | None:
    """The permission an :func:`authorized` dependency checks (None for any other callable)."""
    found = getattr(dependency, "permission", None)
    return found if isinstance(found, Permission) else None
