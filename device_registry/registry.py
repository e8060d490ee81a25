"""The device registry: every device, its status and its history, in the configured database.

>>> async with open_registry("sqlite:///sw.db") as registry:            # doctest: +SKIP
...     await registry.add(device, by="alice")
...     lamps = await registry.list(DeviceFilter(kind="lamp_controller", group="riverside"))
...     await registry.set_status("LP-BY-000123", DeviceStatus.commissioned, by="alice")

Every change runs in one transaction that also writes a ``device_history`` row and bumps
:meth:`Registry.revision`, so a running gateway notices a change with one cheap query.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from device_registry import writes
from device_registry.device import Device, DeviceStatus
from device_registry.endpoints import conflicts, endpoint, taken
from device_registry.errors import (
    DeviceNotFound,
    DuplicateDevice,
    ImportRejected,
    InvalidDevice,
    ProfileRejected,
    RegistryError,
    UnknownTarget,
)
from device_registry.flat import device_from_fields, device_to_fields, fields_for_transport
from device_registry.history import Changes, HistoryEntry, diff, encode_added, entry_from_row
from device_registry.importer import ImportReport, ImportRow, plan_import
from device_registry.library import ProfileEntry, ProfileLibrary, check_device, check_profile_text
from device_registry.lifecycle import check_status_change
from device_registry.positions import Positions, read_positions
from device_registry.query import DeviceFilter, parse_selector
from device_registry.schema import MIGRATIONS
from device_registry.summaries import DeviceSummary, read_summaries
from streetwatch.clock import Clock, SystemClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, IntegrityError, open_database
from streetwatch.gc_tuning import paused_gc
from streetwatch.migrations import migrate

_ID_CHUNK = 500  # ids per IN (...) query: well under SQLite's and PostgreSQL's parameter limits


def _decode(rows: Iterable[Mapping[str, object]]) -> list[Device]:
    return [Device.model_validate_json(str(row["doc"])) for row in rows]


class Registry:
    """Devices in one database. Cheap to make; :func:`open_registry` also opens and migrates the database."""

    def __init__(self, db: Database, *, profiles_dir: Path | None = None, clock: Clock | None = None) -> None:
        self.db = db
        self.profiles_dir = profiles_dir
        self.clock: Clock = clock or SystemClock()
        self._library: ProfileLibrary | None = None

    async def migrate(self) -> None:
        """Create or upgrade the registry's tables (``streetwatch db migrate`` does this for every package)."""
        await migrate(self.db, MIGRATIONS)

    # --- reading -------------------------------------------------------------------------------

    async def revision(self) -> int:
        """A counter bumped by every change to devices or stored profiles: reload when it moves."""
        return int(await self.db.fetch_value("SELECT revision FROM registry_revision WHERE id = 1"))

    async def get(self, device_id: str) -> Device | None:
        row = await self.db.fetch_one("SELECT doc FROM devices WHERE id = ?", (device_id,))
        return None if row is None else _decode([row])[0]

    async def require(self, device_id: str) -> Device:
        """The device, or :class:`DeviceNotFound`."""
        device = await self.get(device_id)
        if device is None:
            raise DeviceNotFound(device_id)
        return device

    async def list(self, where: DeviceFilter | None = None, *, after: str | None = None,
                   limit: int | None = None) -> builtins.list[Device]:
        """Devices matching ``where`` (default: all but retired), by id, in one query.

        ``after`` and ``limit`` page through them: the next page starts after the last id of this one.
        """
        condition, params = (where or DeviceFilter()).where()
        if after is not None:
            condition += " AND d.id > ?"
            params = [*params, after]
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = await self.db.fetch_all(f"SELECT d.doc FROM devices d WHERE {condition} ORDER BY d.id{tail}", params)
        return _decode(rows)

    async def summaries(self, where: DeviceFilter | None = None, *, after: str | None = None,
                        limit: int | None = None) -> builtins.list[DeviceSummary]:
        """What :meth:`list` gives, as listings show it, without building a model per device (much faster)."""
        return await read_summaries(self.db, where, after=after, limit=limit)

    async def positions(self, where: DeviceFilter | None = None) -> Positions:
        """Id, kind, area and position of the devices matching ``where``, as columns, in one query."""
        return await read_positions(self.db, where)

    async def get_many(self, device_ids: Iterable[str]) -> dict[str, Device]:
        """The devices among ``device_ids`` that are registered, by id."""
        ids = list(dict.fromkeys(device_ids))
        found: dict[str, Device] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start:start + _ID_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetch_all(f"SELECT doc FROM devices WHERE id IN ({marks})", chunk)
            found.update((d.id, d) for d in _decode(rows))
        return found

    async def resolve_target(self, selectors: Sequence[str], *, kind: str | None = None) -> builtins.list[Device]:
        """The devices that ``selectors`` name (``LP-1``, ``group:riverside``, ``site:Baiyun``, ``tag:k=v``,
        ``kind:K``, ``all``), as a union in id order, retired ones left out.

        Each selector must match at least one device (of ``kind``, when given): a typo in a group name
        is an :class:`UnknownTarget` error, not a command sent to nobody.
        """
        if isinstance(selectors, str):  # one selector given bare, not a list of its characters
            selectors = [selectors]
        if not selectors:
            raise UnknownTarget("no target given (use ID, group:NAME, site:NAME, tag:KEY=VALUE, kind:KIND or all)")
        chosen: dict[str, Device] = {}
        what = f"{kind} device" if kind else "device"
        for selector in map(parse_selector, selectors):
            if selector.device_id is not None:
                device = await self.require(selector.device_id)
                if device.status is DeviceStatus.retired:
                    raise UnknownTarget(f"target {selector.text!r} is retired")
                if kind is not None and device.kind != kind:
                    raise UnknownTarget(f"target {selector.text!r} is a {device.kind}, not a {kind}")
                matched = [device]
            else:
                assert selector.filter is not None
                matched = [d for d in await self.list(selector.filter) if kind is None or d.kind == kind]
                if not matched:
                    raise UnknownTarget(f"target {selector.text!r} matches no {what}")
            chosen.update((d.id, d) for d in matched)
        return [chosen[key] for key in sorted(chosen)]

    async def history(self, device_id: str) -> builtins.list[HistoryEntry]:
        """Every change to the device, oldest first."""
        rows = await self.db.fetch_all(
            "SELECT device_id, at, actor, action, changes, note FROM device_history WHERE device_id = ? ORDER BY seq",
            (device_id,))
        if not rows:
            await self.require(device_id)
        return [entry_from_row(row) for row in rows]

    async def groups(self) -> builtins.list[tuple[str, int]]:
        """Each group with its number of devices (retired ones not counted)."""
        rows = await self.db.fetch_all(
            "SELECT g.group_name AS name, count(*) AS devices FROM device_groups g JOIN devices d "
            "ON d.id = g.device_id WHERE d.status <> 'retired' GROUP BY g.group_name ORDER BY g.group_name")
        return [(row["name"], int(row["devices"])) for row in rows]

    # --- profiles --------------------------------------------------------------------------------

    async def profiles(self) -> ProfileLibrary:
        """Shipped profiles, ``profiles_dir`` and those stored with ``profile add``; loaded once, kept."""
        if self._library is None:
            self._library = await ProfileLibrary.load(self.db, self.profiles_dir)
        return self._library

    async def reload_profiles(self) -> ProfileLibrary:
        self._library = None
        return await self.profiles()

    async def add_profile(self, text: str, fmt: str, *, source: str, by: str, replace: bool = False) -> str:
        """Store a profile (TOML or YAML text) in the database so every gateway on it can use it.

        Returns what happened: ``added``, ``replaced`` or ``unchanged``. A profile of the same name
        (stored, shipped or in ``profiles_dir``) is only replaced with ``replace``; a replacement must
        keep the kind and transport of the devices using it and the metrics their thresholds name.
        """
        profile = check_profile_text(text, fmt, source)
        library = await self.profiles()
        existing = library.entry(profile.name)
        if existing is not None and existing.source == "database":
            stored = await self.db.fetch_value("SELECT body FROM device_profiles WHERE name = ?", (profile.name,))
            if stored == text:
                return "unchanged"
        if existing is not None and not replace:
            where = "stored in the database" if existing.source == "database" else f"a {existing.source} profile"
            raise ProfileRejected(source, [f"name: {profile.name!r} is already {where}; use --replace to replace it"])
        users = await self.list(DeviceFilter(profile=profile.name, include_retired=True))
        after = ProfileLibrary.from_layers(list(library.entries()),
                                           [ProfileEntry(profile.name, "database", "database", profile)])
        problems = [f"device {d.id}: {p}" for d in users for p in check_device(d, after)]
        if problems:
            raise ProfileRejected(source, problems[:5] + ([f"… and {len(problems) - 5} more"] if len(problems) > 5
                                                          else []))
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM device_profiles WHERE name = ?", (profile.name,))
            await tx.execute("INSERT INTO device_profiles (name, format, body, added_at, added_by) "
                             "VALUES (?, ?, ?, ?, ?)", (profile.name, fmt, text, self.clock.now().isoformat(), by))
            await writes.bump_revision(tx)
        self._library = None
        return "added" if existing is None else "replaced"

    async def _check(self, device: Device) -> None:
        problems = check_device(device, await self.profiles())
        key = endpoint(device)
        if key is not None:
            problems += conflicts([device], await taken(self.db, [key])).values()
        if problems:
            raise InvalidDevice(problems)

    # --- changing --------------------------------------------------------------------------------

    async def add(self, device: Device, *, by: str, note: str = "") -> Device:
        """Register a new device; :class:`DuplicateDevice` if its id is taken (even by a retired one)."""
        await self._check(device)
        now = self.clock.now()
        try:
            async with self.db.transaction() as tx:
                status = await tx.fetch_value("SELECT status FROM devices WHERE id = ?", (device.id,))
                if status is not None:
                    raise DuplicateDevice(device.id, status)
                await writes.insert(tx, [device], now)
                await writes.record(tx, [(device.id, "added", diff(None, device))], by, note, now)
        except IntegrityError:  # added by someone else between our check and our insert
            raise DuplicateDevice(device.id, "registered") from None
        return device

    async def update(self, device_id: str, changes: Mapping[str, str], *, by: str, note: str = "") -> Device:
        """Change fields given as text, as in ``device update ID --set site=Baiyun --set unit=7``.

        Field names are the CSV columns (``host``, ``lat``, ``groups``, ``thresholds``…); status changes
        follow :mod:`device_registry.lifecycle`. Returns the device as it is now.
        """
        before = await self.require(device_id)
        if changes.get("id", device_id) != device_id:
            raise InvalidDevice.one("id", "a device's id cannot change (retire it and add a new one)")
        fields = device_to_fields(before)
        if "transport" in changes:
            fields = fields_for_transport(fields, changes["transport"])
        after = device_from_fields({**fields, **changes})
        return await self.replace(before, after, by=by, note=note)

    async def replace(self, before: Device, after: Device, *, by: str, note: str = "",
                      action: str = "updated") -> Device:
        """Store ``after`` in place of ``before`` (same id), checked against its profile and the lifecycle."""
        if after.id != before.id:
            raise InvalidDevice.one("id", "a device's id cannot change (retire it and add a new one)")
        if after == before:
            return before
        check_status_change(before.status, after.status)
        await self._check(after)
        now = self.clock.now()
        async with self.db.transaction() as tx:
            current = await tx.fetch_value("SELECT doc FROM devices WHERE id = ?", (before.id,))
            if current is None:
                raise DeviceNotFound(before.id)
            if _decode([{"doc": current}])[0] != before:  # changed by someone else since we read it
                raise RegistryError(f"id: device {before.id!r} was changed meanwhile; nothing was written, "
                                    "run it again")
            await writes.update(tx, [after], now)
            await writes.record(tx, [(after.id, action, diff(before, after))], by, note, now)
        return after

    async def set_status(self, device_id: str, status: DeviceStatus | str, *, by: str, note: str = "") -> Device:
        """Move a device along its lifecycle; commissioning calls ``set_status(id, "commissioned", …)``."""
        wanted = DeviceStatus(status)
        before = await self.require(device_id)
        action = "retired" if wanted is DeviceStatus.retired else "status"
        return await self.replace(before, before.model_copy(update={"status": wanted}), by=by, note=note,
                                  action=action)

    async def retire(self, device_id: str, *, by: str, note: str = "") -> Device:
        """Take a device out of service; its id, its history and its readings stay."""
        return await self.set_status(device_id, DeviceStatus.retired, by=by, note=note)

    async def set_group(self, group: str, device_ids: Sequence[str], *, member: bool, by: str) -> builtins.list[Device]:
        """Put devices in ``group`` (``member=True``) or take them out; returns the devices that changed."""
        found = await self.get_many(device_ids)
        missing = [i for i in device_ids if i not in found]
        if missing:
            raise DeviceNotFound(missing[0])
        changed: builtins.list[tuple[Device, Device]] = []
        for device in found.values():
            if (group in device.groups) == member:
                continue
            groups = (*device.groups, group) if member else tuple(g for g in device.groups if g != group)
            changed.append((device, Device.model_validate({**device.model_dump(), "groups": groups})))
        await self._write_many([], changed, by=by, action="group")
        return [after for _, after in changed]

    async def import_devices(self, rows: Sequence[ImportRow], *, update: bool = False, skip_invalid: bool = False,
                             dry_run: bool = False, by: str) -> ImportReport:
        """Add (and with ``update`` change) the devices of ``rows``, all in one transaction.

        Every row is checked first. If any is bad, :class:`ImportRejected` lists them all and nothing
        is written, unless ``skip_invalid``: then the good rows are imported and the report lists the
        bad ones. Rows equal to the registered device are left alone, so re-importing a file is a no-op.
        ``dry_run`` checks and counts without writing.
        """
        # Every device built for the import lives until the commit: a collection would free nothing. The
        # pause ends once they are gone (with _import's frame), so the next collection need not scan them.
        with paused_gc():
            return await self._import(rows, update=update, skip_invalid=skip_invalid, dry_run=dry_run, by=by)

    async def _import(self, rows: Sequence[ImportRow], *, update: bool, skip_invalid: bool, dry_run: bool,
                      by: str) -> ImportReport:
        existing = await self.get_many(str(r.fields.get("id", "")).strip() for r in rows)
        plan = plan_import(rows, existing, await self.profiles(), update=update)
        candidates = plan.to_write()
        in_use = await taken(self.db, filter(None, map(endpoint, candidates)))
        plan.refuse(conflicts(candidates, in_use))
        if plan.problems and not skip_invalid:
            raise ImportRejected(plan.problems)
        if not dry_run:
            await self._write_many(plan.added, plan.updated, by=by, action="imported")
        return ImportReport(len(plan.added), len(plan.updated), len(plan.unchanged), plan.problems)

    async def _write_many(self, added: Sequence[Device], updated: Sequence[tuple[Device, Device]], *, by: str,
                          action: str) -> None:
        if not added and not updated:
            return
        now = self.clock.now()
        entries: list[tuple[str, str, Changes | str]] = [(d.id, action, encode_added(d)) for d in added]
        entries += [(after.id, action, diff(before, after)) for before, after in updated]
        try:
            async with self.db.transaction() as tx:
                await writes.insert(tx, added, now)
                await writes.update(tx, [after for _, after in updated], now)
                await writes.record(tx, entries, by, "", now)
        except IntegrityError:  # someone registered one of these ids while we checked the file
            raise RegistryError("another change registered some of these devices meanwhile; nothing was "
                                "written, run it again") from None


@asynccontextmanager
async def open_registry(database: DatabaseUrl | str, *, profiles_dir: Path | None = None,
                        clock: Clock | None = None) -> AsyncIterator[Registry]:
    """Open the database, apply the registry's migrations, and yield a :class:`Registry`."""
    url = database if isinstance(database, DatabaseUrl) else DatabaseUrl.parse(database)
    async with open_database(url) as db:
        registry = Registry(db, profiles_dir=profiles_dir, clock=clock)
        await registry.migrate()
        yield registry
