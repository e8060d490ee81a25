"""Commands as values: targets, actions and their parameters, delivery statuses.

A *command* is what an operator (or a rule, or the scheduler) asks for: one action for a target
(a device, a group, a site, or devices with a tag). It fans out into one *delivery* per device,
each with its own status::

    queued → sent → confirmed | failed | expired          (and superseded, cancelled)

Latest wins per device and *set-point kind*: a newer command of the same kind supersedes an older
one that has not been confirmed, so an older dim level is never applied after a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from control.errors import CommandError

# An ``area`` target names an area of the people package; whoever creates such a command resolves its
# devices (the API does, with the area's sub-areas) and passes them in. A ``selection`` is devices picked
# one by one (the console's lasso): its value only labels them ("240 devices"), the command lists them.
TargetKind = Literal["device", "group", "site", "tag", "area", "selection"]
TARGET_KINDS: tuple[TargetKind, ...] = ("device", "group", "site", "tag", "area", "selection")


@dataclass(frozen=True, slots=True)
class CommandTarget:
    """Who a command is for. For ``tag`` the value is ``key=value``.

    >>> CommandTarget.parse("group:harbour-road")
    CommandTarget(kind='group', value='harbour-road')
    >>> str(CommandTarget.parse("LP-0001"))
    'LP-0001'
    """

    kind: TargetKind
    value: str

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise CommandError(f"unknown target kind {self.kind!r} (device, group, site, tag, area or selection)")
        if not self.value:
            raise CommandError(f"empty {self.kind} name in the target")
        if self.kind == "tag" and "=" not in self.value:
            raise CommandError(f"tag target {self.value!r} must be key=value")
        if self.kind == "device" and self.value in ("all", "*"):
            raise CommandError(f"{self.value!r} is not a command target: name a site, a group or a tag")

    @classmethod
    def parse(cls, text: str) -> CommandTarget:
        """``LP-1`` (a device), ``group:NAME``, ``site:NAME`` or ``tag:key=value``."""
        kind, sep, value = text.partition(":")
        if sep and kind in ("group", "site", "tag", "device"):
            return cls(kind, value.strip())  # type: ignore[arg-type]
        return cls("device", text.strip())

    def __str__(self) -> str:
        return self.value if self.kind == "device" else f"{self.kind}:{self.value}"


class Action(StrEnum):
    set_dim = "set_dim"
    switch = "switch"
    flash = "flash"
    sync_clock = "sync_clock"
    set_schedule = "set_schedule"
    clear_schedule = "clear_schedule"

    @property
    def setpoint_kind(self) -> str:
        """Commands of the same kind replace each other (latest wins)."""
        return _SETPOINT_KIND[self]


_SETPOINT_KIND = {
    Action.set_dim: "dim", Action.switch: "relay", Action.flash: "flash", Action.sync_clock: "clock",
    Action.set_schedule: "schedule", Action.clear_schedule: "schedule",
}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetDimParams(_Params):
    level_pct: int = Field(ge=0, le=100, validation_alias=AliasChoices("level_pct", "level"))


class SwitchParams(_Params):
    on: bool


class FlashParams(_Params):
    on: bool = True


class SyncClockParams(_Params):
    pass


class SetScheduleParams(_Params):
    schedule: str = Field(min_length=1)


class ClearScheduleParams(_Params):
    pass


PARAMS_MODEL: dict[Action, type[_Params]] = {
    Action.set_dim: SetDimParams, Action.switch: SwitchParams, Action.flash: FlashParams,
    Action.sync_clock: SyncClockParams, Action.set_schedule: SetScheduleParams,
    Action.clear_schedule: ClearScheduleParams,
}


def parse_action(action: str) -> Action:
    try:
        return Action(action)
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise CommandError(f"unknown action {action!r} (known: {known})") from None


def validate_params(action: Action, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters in their canonical form, or a one-line :class:`CommandError`."""
    try:
        model = PARAMS_MODEL[action].model_validate(dict(params))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "params"
            message = "unknown parameter" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{where}: {message}")
        raise CommandError(f"{action.value}: " + "; ".join(problems)) from None
    return model.model_dump()


class DeliveryStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    confirmed = "confirmed"
    failed = "failed"
    expired = "expired"
    superseded = "superseded"
    cancelled = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in (DeliveryStatus.queued, DeliveryStatus.sent)


OPEN_STATUSES = (DeliveryStatus.queued.value, DeliveryStatus.sent.value)


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    action: Action
    params: dict[str, Any]
    target: CommandTarget
    requester: str
    reason: str
    created_at: datetime
    expires_at: datetime
    device_count: int
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommandProgress:
    """A command and how far its deliveries got."""

    command: Command
    counts: dict[DeliveryStatus, int] = field(default_factory=dict)

    @property
    def open(self) -> int:
        return self.counts.get(DeliveryStatus.queued, 0) + self.counts.get(DeliveryStatus.sent, 0)

    @property
    def done(self) -> bool:
        return self.open == 0

    @property
    def status(self) -> str:
        """One word for the whole command; ``summary`` says how many of each."""
        count = self.counts.get
        if not self.done:
            started = count(DeliveryStatus.sent, 0) or self.open < self.command.device_count
            return "sent" if started else "queued"
        for status in (DeliveryStatus.failed, DeliveryStatus.expired, DeliveryStatus.cancelled,
                       DeliveryStatus.confirmed):
            if count(status, 0):
                return status.value
        return DeliveryStatus.superseded.value if self.command.device_count else "confirmed"

    @property
    def summary(self) -> str:
        parts = [f"{n} {status.value}" for status in DeliveryStatus if (n := self.counts.get(status, 0))]
        return ", ".join(parts) or "no devices"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One command on its way to one device."""

    id: int
    command_id: int
    device_id: str
    action: Action
    params: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def setpoint_kind(self) -> str:
        return self.action.setpoint_kind
