"""The API's input models: explicit fields, unknown ones refused (no mass assignment)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PAGE = 1000
MAX_ID = 2**63 - 1  # ids are BIGINT in PostgreSQL and INTEGER in SQLite: a larger number names nothing
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="an alert, command or approval id")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refuse it here, naming the field, not deep in a query.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character")
        return value


class LoginIn(Input):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class NoteIn(Input):
    note: str | None = Field(None, max_length=2000, description="why, for the alert's history")


MAX_SELECTION = 100_000


class TargetIn(Input):
    kind: Literal["device", "group", "site", "tag", "area", "selection"]
    value: str = Field(min_length=1, max_length=200, description="device id, group or site name, key=value, area id; "
                                                                 "for a selection a label (the devices are listed)")


class CommandIn(Input):
    """One action for a target. ``level_pct`` goes with ``dim``; ``schedule`` with ``schedule``; ``devices`` with a
    ``selection`` target (the console's lasso)."""

    target: TargetIn
    devices: list[str] | None = Field(None, min_length=1, max_length=MAX_SELECTION,
                                      description="the device ids of a selection target")
    action: Literal["dim", "on", "off", "schedule", "clear_schedule"]
    level_pct: int | None = Field(None, ge=0, le=100)
    schedule: str | None = Field(None, min_length=1, max_length=64)
    reason: str = Field("", max_length=500)
    ttl_s: float | None = Field(None, gt=0, le=86_400)


class ProblemOut(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """Every error answer: what kind, one line naming the field, and each problem when there are several."""

    error: str
    message: str
    field: str | None = None
    problems: list[ProblemOut] | None = None


_ERROR = {"model": ErrorOut}
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {**_ERROR, "description": "no valid credentials"},
    403: {**_ERROR, "description": "the role lacks the permission, or a session's change lacks its CSRF token"},
    404: {**_ERROR, "description": "no such object in the caller's areas"},
    409: {**_ERROR, "description": "the object's state refuses the change"},
    422: {**_ERROR, "description": "invalid input; the field is named"},
    429: {**_ERROR, "description": "too many requests or failed logins; see Retry-After"},
}
