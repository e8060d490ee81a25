"""Every device profile a gateway knows: shipped, from ``profiles_dir``, and added with ``profile add``.

Profiles added with ``profile add`` live in the database, so every gateway on it sees them.
``profiles_dir`` adds to the shipped profiles (a file there with a shipped file's name replaces
it). When names collide the most local wins: database over ``profiles_dir`` over shipped, and
the log says which replaced which. A broken file in
``profiles_dir`` does not stop the rest loading; it is listed with its problems, and asking for it
by name says why it cannot be used.

>>> library = ProfileLibrary.shipped()
>>> library.get("sw-lamp-controller").kind
'lamp_controller'
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from device_registry.device import KNOWN_KINDS, Device
from device_registry.errors import FieldProblem, ProfileRejected, UnknownProfile
from device_registry.profile import (
    SHIPPED_PROFILES_DIR,
    Profile,
    ProfileError,
    check_profile,
    parse_profile_text,
    read_profile_data,
)
from streetwatch.database import Database
from streetwatch.layered import layered_files

log = logging.getLogger(__name__)

ProfileSource = Literal["shipped", "profiles_dir", "database"]
PROFILE_SUFFIXES = (".toml", ".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One profile file: the profile when it is valid, else its problems."""

    name: str
    source: ProfileSource
    origin: str  # the file path, or ``database``
    profile: Profile | None
    problems: tuple[str, ...] = ()


def _entry(data: Mapping[str, object], source: ProfileSource, origin: str, fallback_name: str) -> ProfileEntry:
    profile, problems = check_profile(data)
    name = data.get("name")
    return ProfileEntry(name if isinstance(name, str) and name else fallback_name, source, origin, profile,
                        tuple(problems))


def _read_files(paths: list[Path], source: ProfileSource) -> list[ProfileEntry]:
    entries = []
    for path in paths:
        try:
            data = read_profile_data(path)
        except ProfileError as exc:
            entries.append(ProfileEntry(path.stem, source, str(path), None, tuple(exc.problems)))
            continue
        entries.append(_entry(data, source, str(path), path.stem))
    return entries


def check_profile_text(text: str, fmt: str, source: str) -> Profile:
    """A valid profile from TOML or YAML text, else :class:`ProfileRejected` listing every problem."""
    try:
        data = parse_profile_text(text, f".{fmt}", source)
    except ProfileError as exc:
        raise ProfileRejected(source, exc.problems) from None
    profile, problems = check_profile(data)
    if profile is None:
        raise ProfileRejected(source, problems)
    return profile


def profile_format(path: Path) -> str:
    """``toml`` or ``yaml`` from a file name, else :class:`ProfileRejected`."""
    suffix = path.suffix.lower()
    if suffix not in PROFILE_SUFFIXES:
        raise ProfileRejected(str(path), [f"unknown file type {suffix or '(none)'!r}: use .toml, .yaml or .yml"])
    return "toml" if suffix == ".toml" else "yaml"


def parse_stored(name: str, fmt: str, body: str) -> ProfileEntry:
    """A profile stored in the database, validated again (the schema may have moved on since)."""
    try:
        data = parse_profile_text(body, f".{fmt}", f"database:{name}")
    except ProfileError as exc:
        return ProfileEntry(name, "database", "database", None, tuple(exc.problems))
    return _entry(data, "database", "database", name)


class ProfileLibrary:
    """Profiles by name; :meth:`get` raises :class:`UnknownProfile` naming the profile asked for."""

    def __init__(self, entries: Mapping[str, ProfileEntry]) -> None:
        self._entries = dict(entries)
        # A library does not change once built; checking an import asks for the kinds once per row.
        self._kinds = tuple(sorted(set(KNOWN_KINDS) | {e.profile.kind for e in self._entries.values()
                                                       if e.profile is not None}))
        self._kind_set = frozenset(self._kinds)

    @classmethod
    def from_layers(cls, *layers: list[ProfileEntry]) -> ProfileLibrary:
        """Later layers win over earlier ones, name by name."""
        merged: dict[str, ProfileEntry] = {}
        for layer in layers:
            for entry in layer:
                replaced = merged.get(entry.name)
                if replaced is not None and replaced.origin != entry.origin:
                    log.info("profile %s from %s replaces the one from %s", entry.name, entry.origin, replaced.origin)
                merged[entry.name] = entry
        return cls(merged)

    @classmethod
    def shipped(cls, profiles_dir: Path | None = None) -> ProfileLibrary:
        """The shipped profiles, and those in ``profiles_dir`` (no database)."""
        files = layered_files(SHIPPED_PROFILES_DIR, profiles_dir, PROFILE_SUFFIXES)
        shipped = [p for p in files if p.parent == SHIPPED_PROFILES_DIR]
        return cls.from_layers(_read_files(shipped, "shipped"),
                               _read_files([p for p in files if p not in shipped], "profiles_dir"))

    @classmethod
    async def load(cls, db: Database, profiles_dir: Path | None = None) -> ProfileLibrary:
        """Shipped, then ``profiles_dir``, then the profiles stored in ``db`` (needs the registry's tables)."""
        rows = await db.fetch_all("SELECT name, format, body FROM device_profiles ORDER BY name")
        stored = [parse_stored(row["name"], row["format"], row["body"]) for row in rows]
        base = cls.shipped(profiles_dir)
        return cls.from_layers(list(base.entries()), stored)

    def entries(self) -> Iterator[ProfileEntry]:
        for name in sorted(self._entries):
            yield self._entries[name]

    def entry(self, name: str) -> ProfileEntry | None:
        return self._entries.get(name)

    def names(self) -> list[str]:
        return sorted(name for name, e in self._entries.items() if e.profile is not None)

    def __contains__(self, name: object) -> bool:
        entry = self._entries.get(name) if isinstance(name, str) else None
        return entry is not None and entry.profile is not None

    def get(self, name: str) -> Profile:
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownProfile(name, self.names())
        if entry.profile is None:
            raise UnknownProfile(name, self.names(), [f"{entry.origin}: {p}" for p in entry.problems])
        return entry.profile

    def broken(self) -> list[ProfileEntry]:
        """Profiles that failed validation: shown by ``profile list``, refused by :meth:`get`."""
        return [e for e in self.entries() if e.profile is None]

    def kinds(self) -> list[str]:
        """Every device kind: the built-in ones and any a profile introduces."""
        return list(self._kinds)

    def knows_kind(self, kind: str) -> bool:
        return kind in self._kind_set


def check_device(device: Device, library: ProfileLibrary) -> list[FieldProblem]:
    """What the profile says about the device: its kind, its transport, the metrics of its thresholds."""
    problems: list[FieldProblem] = []
    known_kind = library.knows_kind(device.kind)
    if not known_kind:
        problems.append(FieldProblem("kind", f"unknown kind {device.kind!r} (known: {', '.join(library.kinds())})"))
    try:
        profile = library.get(device.profile)
    except UnknownProfile as exc:
        problems.append(FieldProblem("profile", str(exc).removeprefix("profile: ")))
        return problems
    if known_kind and profile.kind != device.kind:
        problems.append(FieldProblem(
            "kind", f"profile {profile.name} is for {profile.kind} devices, not {device.kind}"))
    if device.transport.is_modbus != (profile.transport == "modbus"):
        wanted = "modbus-tcp, modbus-rtu or modbus-rtu-over-tcp" if profile.transport == "modbus" else "mqtt"
        problems.append(FieldProblem(
            "transport", f"profile {profile.name} speaks {profile.transport}; use transport {wanted}"))
    metrics = profile.metric_names() if device.thresholds else []
    for metric in device.thresholds:
        if metric not in metrics:
            problems.append(FieldProblem(
                "thresholds", f"profile {profile.name} has no metric {metric!r} (metrics: {', '.join(metrics)})"))
    return problems
