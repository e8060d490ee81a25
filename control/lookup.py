"""Where the dispatcher and the CLI look devices up: the registry, behind a small protocol.

The control package needs three things from the registry: the devices a target names, devices by
id, and profiles by name. :class:`RegistryLookup` adapts :class:`device_registry.Registry`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from control.errors import CommandError
from control.model import CommandTarget
from device_registry import Device, Profile, Registry, RegistryError


class DeviceLookup(Protocol):
    async def resolve(self, target: CommandTarget) -> list[Device]:
        """The devices ``target`` names; :class:`CommandError` if it names none."""
        ...

    async def devices(self, device_ids: Iterable[str]) -> dict[str, Device]:
        """The registered devices among ``device_ids``, by id."""
        ...

    async def profile(self, name: str) -> Profile | None:
        ...


class RegistryLookup:
    """:class:`DeviceLookup` over the device registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def resolve(self, target: CommandTarget) -> list[Device]:
        try:
            return await self.registry.resolve_target([str(target)])
        except RegistryError as exc:
            raise CommandError(str(exc)) from None

    async def devices(self, device_ids: Iterable[str]) -> dict[str, Device]:
        return await self.registry.get_many(device_ids)

    async def profile(self, name: str) -> Profile | None:
        library = await self.registry.profiles()
        return library.get(name) if name in library else None
