"""The FastAPI application: routers, error handlers, and the check that every route is authorized.

>>> app = create_app(settings)          # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.routing import APIRoute

from streetwatch import __version__
from streetwatch.clock import Clock, SystemClock
from streetwatch.config import Settings
from streetwatch.gc_tuning import tuned_gc
from web import (
    console,
    errors,
    events,
    routes_ack,
    routes_alerts,
    routes_audit,
    routes_commands,
    routes_devices,
    routes_hazards,
    routes_lighting,
    routes_map,
    routes_preferences,
    routes_session,
    routes_tasks,
    routes_water,
)
from web.auth import permission_of
from web.event_hub import running_hub
from web.geojson_cache import GZIP_LEVEL
from web.nul_guard import RefuseNul
from web.services import open_services

API_PREFIX = "/api/v1"
PUBLIC_ROUTES = routes_session.PUBLIC_ROUTES | routes_ack.PUBLIC_ROUTES


ROUTERS = (routes_session.router, routes_devices.router, routes_alerts.router, routes_commands.router,
           routes_lighting.router, routes_audit.router, events.router, routes_ack.router,
           routes_tasks.router, routes_map.router, routes_preferences.router, routes_water.router,
           routes_hazards.router)


def api_routes() -> list[APIRoute]:
    """Every API route, with its full path."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def route_permission(route: APIRoute) -> object:
    """The permission the route's authorization dependency checks, or None."""
    for dependency in route.dependant.dependencies:
        found = permission_of(dependency.call)
        if found is not None:
            return found
    return None


def served_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every operation the app serves, from its OpenAPI document."""
    return {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}


def check_routes(app: FastAPI) -> None:
    """Refuse to start with an operation that does not go through :func:`web.auth.authorized`."""
    secured = {(method, route.path) for route in api_routes() if route_permission(route) is not None
               for method in route.methods or ()}
    for operation in sorted(served_operations(app) - secured - PUBLIC_ROUTES):
        raise RuntimeError(f"{operation[0]} {operation[1]} has no authorization dependency")


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The operator API on the database ``settings`` names."""
    chosen_clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, chosen_clock) as services, running_hub(services) as hub:
            app.state.services = services
            app.state.events = hub
            # Everything loaded by now lives as long as the process: out of the collector's full scans,
            # which otherwise stop every request in flight for 40+ ms (docs/benchmarks.md, operator API).
            api = settings.api
            with tuned_gc(api.gc_thresholds if api.gc_tuning else None):
                yield

    app = FastAPI(title="Streetwatch operator API", version=__version__, lifespan=lifespan,
                  description="Areas, devices, readings, alerts and commands of the caller's areas (docs/api.md).")
    errors.install(app)
    app.add_middleware(RefuseNul)
    for router in ROUTERS:
        app.include_router(router)
    check_routes(app)
    console.install(app)
    # Starlette compresses at level 9 unless told: 15 ms for a day of 1-minute buckets (190 kB), against
    # 5 ms at 6 for 1.5 % more bytes — the largest part of that request's time.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=GZIP_LEVEL)
    return app
