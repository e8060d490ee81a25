"""Every error the API answers is JSON naming what is wrong and where; never a stack trace.

``{"error": "invalid", "field": "body.level_pct", "message": "…", "problems": [...]}``
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from streetwatch.database import DatabaseUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than success: ``status`` with a one-line ``message`` naming ``field``."""

    def __init__(self, status: int, error: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.headers = headers or {}


def unauthenticated(message: str = "log in or send a bearer token") -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str) -> ApiError:
    # The same words whether it does not exist or lies outside the caller's areas.
    return ApiError(404, "not_found", f"no {what}")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {message}", field=field)


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def _body(error: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": error, "message": message, "field": field, **extra}


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into 4xx JSON (and a fault into a bare 500)."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.error, exc.message, exc.field), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = _location(tuple(err.get("loc", ())))
            kind = err.get("type", "")
            if kind == "extra_forbidden":
                message = "unknown field"
            elif kind == "json_invalid":  # its location holds the character offset, not a field
                where = "body"
                message = f"malformed JSON ({err.get('ctx', {}).get('error', 'cannot parse')})"
            else:
                message = str(err.get("msg", "invalid"))
            problems.append({"field": where, "message": message})
        first = problems[0] if problems else {"field": "body", "message": "invalid"}
        return JSONResponse(_body("invalid", f"{first['field']}: {first['message']}", first["field"],
                                  problems=problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not even text (FastAPI raises this before validating)
            return JSONResponse(_body("invalid", f"body: malformed request body ({exc.detail})", "body"),
                                status_code=422)
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(error, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(DatabaseUnavailable)
    async def _unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return JSONResponse(_body("unavailable", "the database is unavailable; try again shortly"),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse(_body("internal", "the server could not answer; the fault is logged"), status_code=500)
