"""The API's input models: explicit fields, unknown ones refused (no mass assignment)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE = 1000


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Input):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class NoteIn(Input):
    note: str | None = Field(None, max_length=2000, description="why, for the alert's history")


class TargetIn(Input):
    kind: Literal["device", "group", "site", "tag", "area"]
    value: str = Field(min_length=1, max_length=200, description="device id, group or site name, key=value, area id")


class CommandIn(Input):
    """One action for a target. ``level_pct`` goes with ``dim``; ``schedule`` with ``schedule``."""

    target: TargetIn
    action: Literal["dim", "on", "off", "schedule", "clear_schedule"]
    level_pct: int | None = Field(None, ge=0, le=100)
    schedule: str | None = Field(None, min_length=1, max_length=64)
    reason: str = Field("", max_length=500)
    ttl_s: float | None = Field(None, gt=0, le=86_400)
