"""The operator console: three layouts (desk, wall, phone) and a login page over the API, plus their files.

The pages are static shells; everything they show comes from ``/api/v1`` with the user's session, so
the console can do nothing the API would not let that user do. JavaScript libraries are vendored under
``web/static/vendor`` (no CDN, no build step).
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from streetwatch.config import ConsoleSettings
from web.auth import services_of

STATIC_DIR = Path(__file__).parent / "static"
PAGES_DIR = STATIC_DIR / "console"
Layout = Literal["desk", "wall", "phone"]
# The pages load only their own files; the tile server is the one other origin the map may use.
_CSP = ("default-src 'self'; img-src 'self' data: {tiles}; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

router = APIRouter(include_in_schema=False)


@cache
def _template(name: str) -> str:
    return (PAGES_DIR / name).read_text(encoding="utf-8")


def _tile_origin(tile_url: str) -> str:
    if not tile_url.startswith(("https://", "http://")):
        return ""
    scheme, _, rest = tile_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}".replace("{s}", "*")


def page(name: str, console: ConsoleSettings, layout: Layout = "desk") -> HTMLResponse:
    """A page with the layout and the console settings the script needs filled in."""
    config = {"layout": layout, "tileUrl": console.tile_url, "tileAttribution": console.tile_attribution,
              "tileMaxZoom": console.tile_max_zoom, "wallRefreshS": console.wall_refresh_s}
    text = (_template(name).replace("{{layout}}", layout)
            .replace("{{config}}", html.escape(json.dumps(config), quote=True)))
    headers = {"Content-Security-Policy": _CSP.format(tiles=_tile_origin(console.tile_url)).replace("  ", " "),
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
    return HTMLResponse(text, headers=headers)


def _console(request: Request) -> ConsoleSettings:
    return services_of(request).settings.console


@router.get("/")
async def desk(request: Request) -> HTMLResponse:
    return page("console.html", _console(request), "desk")


@router.get("/wall")
async def wall(request: Request) -> HTMLResponse:
    return page("console.html", _console(request), "wall")


@router.get("/phone")
async def phone(request: Request) -> HTMLResponse:
    return page("console.html", _console(request), "phone")


@router.get("/login")
async def login(request: Request) -> HTMLResponse:
    return page("login.html", _console(request))


@router.get("/console")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)


def install(app: FastAPI) -> None:
    """Serve the console's pages and files beside the API."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
