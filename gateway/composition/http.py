"""The gateway's two small HTTP servers: Prometheus metrics, and a read-only API.

- ``GET /metrics`` on ``gateway.metrics_port``;
- ``GET /health`` (readiness: 200 when the store is reachable and the MQTT session is up, else 503;
  both say why), ``GET /devices/{id}/state`` and ``GET /water/report?date=YYYY-MM-DD[&area=A]`` (the
  daily GB 3838-2002 report, as ``streetwatch water report --format json``) on ``gateway.api_port``.

A port of 0 or unset disables that server. The sockets are bound before the gateway starts, so a
port in use is a one-line error at start, not a failure later. Both listen on ``gateway.listen_host``
(127.0.0.1 unless configured); ``/devices/{id}/state`` answers only clients on this machine even
then, since it tells where each device is and whether it answers, and so does ``/water/report`` (it
asks no credentials, and the operator API's routes each check the caller's areas) unless
``gateway.water_report_remote`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from datetime import date
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.types import ASGIApp

from gateway.errors import GatewayError
from hydrology import DailyReports


class HttpError(GatewayError):
    """An HTTP server cannot start (its port is in use)."""


class GatewayView(Protocol):
    def health(self) -> tuple[bool, dict[str, Any]]: ...

    def device_state(self, device_id: str) -> dict[str, Any] | None: ...

    @property
    def water(self) -> DailyReports | None: ...


def create_api(view: GatewayView, *, remote_water_report: bool = False) -> FastAPI:
    app = FastAPI(title="Streetwatch gateway", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> JSONResponse:
        ok, body = view.health()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/devices/{device_id}/state")
    def device_state(device_id: str, request: Request) -> dict[str, Any]:
        if not _local(request):
            raise HTTPException(status_code=403, detail="device state is served to this machine only")
        state = view.device_state(device_id)
        if state is None:
            raise HTTPException(status_code=404, detail=f"device {device_id} is not served by this gateway")
        return state

    @app.get("/water/report")
    async def water_report(request: Request, text: str = Query(alias="date"),
                           area: str | None = None) -> list[dict[str, Any]]:
        if not remote_water_report and not _local(request):
            raise HTTPException(status_code=403, detail="the water report is served to this machine only "
                                                        "(gateway.water_report_remote opens it)")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise HTTPException(status_code=400, detail=f"date: {text!r} is not a date (YYYY-MM-DD)") from None
        reports = view.water
        if reports is None:
            raise HTTPException(status_code=503, detail="the gateway is starting")
        return await reports.rows(day, area)

    return app


def metrics_app(registry: CollectorRegistry) -> ASGIApp:
    return make_asgi_app(registry)


def _local(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(port: int, what: str, host: str = "127.0.0.1") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HttpError(f"{what} {port}: cannot listen on {host}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class InProcessServer(uvicorn.Server):
    """uvicorn inside a process that handles SIGTERM and SIGINT itself (the gateway, the demo)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: ASGIApp, sock: socket.socket) -> None:
    """Serve ``app`` on an already bound socket until cancelled; then stop accepting and close."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    server = InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http :{sock.getsockname()[1]}")
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    finally:
        sock.close()
