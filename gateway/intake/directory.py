"""The devices the running gateway serves, kept current from the registry without a restart.

A gateway may serve 100,000 devices, so it does not keep every :class:`~device_registry.Device`:
a :class:`~gateway.intake.entry.DeviceEntry` holds what the intake, the poller and the rules engine
read (about 0.2 kB), its equal parts shared. Devices sharing a serial line or converter share one
``Endpoint``.

Every ``check_interval_s`` the directory asks the registry's revision (one cheap query); when it
moved, it reads the devices again page by page and decodes only documents that changed, so a
change to one device among 100,000 costs a scan of text, not 100,000 validations, and memory
never holds more than one page of documents. Listeners hear what was added, changed and removed.

The registry has no paged listing, so the pages are read from its ``devices`` table (id, doc):
the same documents :meth:`device_registry.Registry.list` decodes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from device_registry import Device, DeviceStatus, Profile, ProfileLibrary, Registry, UnknownProfile
from gateway.intake.entry import DeviceEntry, EntryMaker
from streetwatch.database import DatabaseError

log = logging.getLogger(__name__)
PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class DirectoryChange:
    added: tuple[DeviceEntry, ...] = ()
    changed: tuple[DeviceEntry, ...] = ()
    removed: tuple[str, ...] = ()  # retired or gone
    profiles_changed: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.profiles_changed)


Listener = Callable[[DirectoryChange], None]


class DeviceDirectory:
    """Registered devices (retired ones left out) and their profiles, reloaded when the registry changes.

    :attr:`devices` is a read-only view of the entries by id, as the rules engine reads them.
    """

    def __init__(self, registry: Registry, *, check_interval_s: float = 2.0, page_size: int = PAGE_SIZE) -> None:
        self.registry = registry
        self.check_interval_s = check_interval_s
        self.page_size = page_size
        self.revision: int | None = None
        self._entries: dict[str, DeviceEntry] = {}
        self.devices: Mapping[str, DeviceEntry] = MappingProxyType(self._entries)
        self._hashes: dict[str, int] = {}
        self._profiles: dict[str, Profile | None] = {}
        self._library: ProfileLibrary | None = None
        self._listeners: list[Listener] = []
        self._maker = EntryMaker()
        self._failing = False
        self._check_now = asyncio.Event()

    # -- reading ---------------------------------------------------------------------------------

    def get(self, device_id: str) -> DeviceEntry | None:
        return self._entries.get(device_id)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[DeviceEntry]:
        return iter(list(self._entries.values()))

    def profile(self, name: str) -> Profile | None:
        """The profile by name; None (logged once) when it is unknown or broken."""
        try:
            return self._profiles[name]
        except KeyError:
            pass
        profile: Profile | None = None
        if self._library is not None:
            try:
                profile = self._library.get(name)
            except UnknownProfile as exc:
                log.error("devices use profile %s, which cannot be used: %s", name, exc)
        self._profiles[name] = profile
        return profile

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- loading ---------------------------------------------------------------------------------

    async def load(self) -> DirectoryChange:
        """Read the registry now (at start, and when its revision moved); tell the listeners."""
        revision = await self.registry.revision()
        profiles_changed = self._library is not None
        self._library = await self.registry.reload_profiles()
        self._profiles.clear()
        added: list[DeviceEntry] = []
        changed: list[DeviceEntry] = []
        removed: list[str] = []
        seen: set[str] = set()
        after = ""
        while True:
            rows = await self.registry.db.fetch_all(
                "SELECT id, doc FROM devices WHERE id > ? ORDER BY id LIMIT ?", (after, self.page_size))
            if not rows:
                break
            for row in rows:
                device_id, doc = str(row["id"]), str(row["doc"])
                seen.add(device_id)
                digest = hash(doc)
                if self._hashes.get(device_id) == digest:
                    continue
                self._hashes[device_id] = digest
                self._apply(Device.model_validate_json(doc), device_id, added, changed, removed)
            after = str(rows[-1]["id"])
            await asyncio.sleep(0)  # let the intake run between pages
        for device_id in [d for d in self._hashes if d not in seen]:
            del self._hashes[device_id]
            self._drop(device_id, removed)
        self.revision = revision
        change = DirectoryChange(tuple(added), tuple(changed), tuple(removed), profiles_changed)
        if change:
            log.info("registry revision %d: %d device(s) served (%d added, %d changed, %d removed)", revision,
                     len(self._entries), len(change.added), len(change.changed), len(change.removed))
            for listener in self._listeners:
                listener(change)
        return change

    def _apply(self, device: Device, device_id: str, added: list[DeviceEntry], changed: list[DeviceEntry],
               removed: list[str]) -> None:
        if device.status is DeviceStatus.retired:
            self._drop(device.id, removed)
            return
        entry = self._maker.entry(device, device_id)
        before = self._entries.get(entry.id)
        self._entries[entry.id] = entry
        (added if before is None else changed).append(entry)

    def _drop(self, device_id: str, removed: list[str]) -> None:
        if self._entries.pop(device_id, None) is not None:
            removed.append(device_id)

    # -- watching --------------------------------------------------------------------------------

    def check_soon(self) -> None:
        """Check the registry now rather than at the next interval (a sender the gateway does not know yet)."""
        self._check_now.set()

    async def watch(self, min_interval_s: float = 0.2) -> None:
        """Check the registry's revision every ``check_interval_s``, or when asked (:meth:`check_soon`) but
        not more often than every ``min_interval_s`` (a flood of unknown senders asks all the time); reload
        when it moved."""
        while True:
            try:
                async with asyncio.timeout(self.check_interval_s):
                    await self._check_now.wait()
            except TimeoutError:
                pass
            self._check_now.clear()
            await self.check()
            await asyncio.sleep(min_interval_s)

    async def check(self) -> DirectoryChange | None:
        """One check: reload if the revision moved. An unreachable database is logged once."""
        try:
            if await self.registry.revision() == self.revision:
                result = None
            else:
                result = await self.load()
        except DatabaseError as exc:
            if not self._failing:
                log.error("cannot check the registry for changes (the devices loaded stay in service): %s", exc)
            self._failing = True
            return None
        if self._failing:
            log.info("registry reachable again")
        self._failing = False
        return result
