"""Devices, device profiles, and the registry every other part reads.

    from device_registry import open_registry, DeviceFilter, DeviceStatus

    async with open_registry(settings.database, profiles_dir=settings.profiles_dir) as registry:
        lamps = await registry.list(DeviceFilter(kind="lamp_controller", group="riverside"))
"""

from __future__ import annotations

from device_registry.device import Device, DeviceStatus, Location, Transport
from device_registry.errors import (
    DeviceNotFound,
    DuplicateDevice,
    FieldProblem,
    ImportRejected,
    InvalidDevice,
    ProfileRejected,
    RegistryError,
    RowProblem,
    StatusChangeRefused,
    UnknownProfile,
    UnknownTarget,
)
from device_registry.flat import COLUMNS, device_from_fields, device_to_fields
from device_registry.history import HistoryEntry
from device_registry.importer import ImportReport, ImportRow, read_csv
from device_registry.library import ProfileEntry, ProfileLibrary
from device_registry.observed import LatestReadings, Observed, set_latest_readings
from device_registry.positions import Positions
from device_registry.profile import Profile, ProfileError
from device_registry.query import DeviceFilter
from device_registry.registry import Registry, open_registry
from device_registry.schema import MIGRATIONS
from device_registry.summaries import DeviceSummary

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "Device",
    "DeviceFilter",
    "DeviceNotFound",
    "DeviceStatus",
    "DeviceSummary",
    "DuplicateDevice",
    "FieldProblem",
    "HistoryEntry",
    "ImportRejected",
    "ImportReport",
    "ImportRow",
    "InvalidDevice",
    "LatestReadings",
    "Location",
    "Observed",
    "Positions",
    "Profile",
    "ProfileEntry",
    "ProfileError",
    "ProfileLibrary",
    "ProfileRejected",
    "Registry",
    "RegistryError",
    "RowProblem",
    "StatusChangeRefused",
    "Transport",
    "UnknownProfile",
    "UnknownTarget",
    "device_from_fields",
    "device_to_fields",
    "open_registry",
    "read_csv",
    "set_latest_readings",
]
