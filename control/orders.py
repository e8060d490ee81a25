"""Placing a command: check the action and its parameters, resolve the target, keep the devices
that can carry it out, and queue it. The CLI and the dispatcher's ``submit`` both come here.

The bulk guard protects against the costly slip: switching off a whole site, or commanding more
devices than ``[control] max_bulk_without_yes``, needs an explicit ``--yes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from control.errors import CommandError
from control.library import ScheduleLibrary
from control.lookup import DeviceLookup
from control.model import Action, Command, CommandTarget, parse_action, validate_params
from control.store import CommandStore
from device_registry import Device, Profile
from streetwatch.figures import show


@dataclass(frozen=True, slots=True)
class Order:
    """A queued command, and the devices of the target left out (with why)."""

    command: Command
    skipped: list[tuple[str, str]] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)


def supports(profile: Profile | None, action: Action) -> str | None:
    """Why a device with ``profile`` cannot carry out ``action``; None if it can."""
    if profile is None:
        return "its profile is unknown"
    if action.value not in profile.commands:
        return f"its profile {profile.name} has no {action.value} command"
    return None


async def capable_devices(directory: DeviceLookup, devices: Sequence[Device], action: Action,
                          ) -> tuple[list[Device], list[tuple[str, str]]]:
    profiles: dict[str, Profile | None] = {}
    capable, skipped = [], []
    for device in devices:
        if device.profile not in profiles:
            profiles[device.profile] = await directory.profile(device.profile)
        why = supports(profiles[device.profile], action)
        if why is None:
            capable.append(device)
        else:
            skipped.append((device.id, why))
    return capable, skipped


def darkens(action: Action, params: Mapping[str, Any]) -> str | None:
    """How this command switches the light off (for the bulk guard's message); None if it does not."""
    if action is Action.switch and not params.get("on", True):
        return "this switches off"
    if action is Action.set_dim and float(params.get("level_pct", 100)) <= 0:
        return "dimming to 0 % switches off"
    return None


def bulk_refusal(action: Action, params: Mapping[str, Any], target: CommandTarget, device_count: int,
                 max_without_yes: int) -> str | None:
    """Why this command needs ``--yes``; None if it may go without.

    The guard looks at what a command does to the street, not at its name: dimming to 0 % darkens it
    as surely as switching off, so both need ``--yes`` for a whole site.
    """
    darkening = darkens(action, params)
    if darkening is not None and target.kind == "site":
        return (f"{darkening} every lamp at site {target.value} ({device_count} devices); "
                f"add --yes to confirm")
    if device_count > max_without_yes:
        return (f"this command is for {device_count} devices, more than [control] max_bulk_without_yes "
                f"({max_without_yes}); add --yes to confirm")
    return None


async def prepare(directory: DeviceLookup, target: CommandTarget, action_name: str, params: Mapping[str, Any],
                  *, schedules: ScheduleLibrary | None = None, devices: Sequence[Device] | None = None,
                  ) -> tuple[Action, dict[str, Any], list[Device], list[tuple[str, str]]]:
    """Check and resolve without queueing: the action, canonical parameters, capable and skipped devices.

    ``devices``: the target's devices when the caller already knows them (the scheduler does).
    """
    action = parse_action(action_name)
    canonical = validate_params(action, params)
    if action is Action.set_schedule and schedules is not None:
        schedules.get(canonical["schedule"])  # UnknownSchedule names the known ones
    devices = list(devices) if devices is not None else await directory.resolve(target)
    capable, skipped = await capable_devices(directory, devices, action)
    if not capable:
        reasons = "; ".join(f"{device}: {why}" for device, why in skipped[:3])
        raise CommandError(f"none of the {len(devices)} device(s) of {target} can {action.value} ({reasons})")
    return action, canonical, capable, skipped


async def place_order(store: CommandStore, directory: DeviceLookup, target: CommandTarget, action_name: str,
                      params: Mapping[str, Any], *, requester: str, reason: str, ttl_s: float,
                      schedules: ScheduleLibrary | None = None, devices: Sequence[Device] | None = None,
                      request_key: str | None = None) -> Order:
    """Queue a command for every device of ``target`` that can carry it out (once per ``request_key``)."""
    if ttl_s <= 0:
        raise CommandError(f"the time to live must be positive, not {show(ttl_s)} s")
    action, canonical, capable, skipped = await prepare(directory, target, action_name, params,
                                                        schedules=schedules, devices=devices)
    command = await store.create(target, action, canonical, [d.id for d in capable],
                                 requester=requester, reason=reason, ttl_s=ttl_s, request_key=request_key)
    return Order(command, skipped, capable)
