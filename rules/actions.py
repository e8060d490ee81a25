"""Commands a rule issues when its alert changes, e.g. a red flood alert at an underpass sets the
hazard point's lamp group to 100 %. The command dispatcher implements :class:`CommandSink`.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from rules.spec import ActionSpec
from rules.watched import WatchedDevice

TargetKind = Literal["device", "group", "site", "tag"]


@dataclass(frozen=True, slots=True)
class CommandTarget:
    """Whom a command is for: one device, a group, a site, or the devices with a tag (``key=value``)."""

    kind: TargetKind
    value: str


class CommandSink(Protocol):
    """The command dispatcher, as the rules engine uses it."""

    async def submit(
        self, target: CommandTarget, action: str, params: dict[str, Any], requester: str, reason: str,
        *, request_key: str | None = None,
    ) -> None:
        """Queue ``action`` with ``params`` for ``target``; ``requester`` is ``rule:<name>``.

        A second submit with the same ``request_key`` queues nothing more (the engine retries a submit
        whose outcome it could not learn). Raise :class:`~rules.errors.CommandSinkUnavailable` to be retried.
        """
        ...


def _new_key() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A command a rule asks for; ``key`` makes its submission idempotent across retries."""

    target: CommandTarget
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    requester: str = ""
    reason: str = ""
    key: str = field(default_factory=_new_key)


def resolve_targets(spec: ActionSpec, device: WatchedDevice | None, subject_key: tuple[str, str] | None = None
                    ) -> list[CommandTarget]:
    """The targets of an action for the alerting device (or group subject ``(group_by, key)``).

    >>> from rules.spec import ActionSpec
    >>> resolve_targets(ActionSpec(at="red", action="set_dim", target="group", groups_matching="hazard-*"),
    ...                 None, ("group", "hazard-07"))
    [CommandTarget(kind='group', value='hazard-07')]
    """
    if spec.value is not None:
        return [CommandTarget(spec.target, spec.value)]
    by, key = subject_key if subject_key is not None else ("", "")
    if spec.target == "device":
        return [CommandTarget("device", device.id)] if device is not None else []
    if spec.target == "site":
        site = device.site if device is not None else (key if by == "site" else "")
        return [CommandTarget("site", site)] if site else []
    if spec.target == "group":
        groups = device.groups if device is not None else ((key,) if by == "group" else ())
        pattern = spec.groups_matching or "*"
        return [CommandTarget("group", g) for g in groups if fnmatch.fnmatchcase(g, pattern)]
    return []
