"""What the running gateway keeps of a registered device: a compact entry, its equal parts shared.

A gateway serves 100,000 devices, so it keeps neither the registry's documents nor a validated
:class:`~device_registry.Device` for each (about 3 kB as pydantic made it, 1 kB with its equal parts
shared: a ``__dict__`` per model, a location and an address model per device). A :class:`DeviceEntry`
holds what the intake, the poller and the rules engine read (the rules: :class:`rules.watched.WatchedDevice`)
in slots, about 0.2 kB. :class:`EntryMaker` makes them: one object per distinct text, tag set,
group list, thresholds and endpoint (100,000 lamps name one profile; thousands share ``{"batch": "3"}``).

>>> from device_registry import Device
>>> doc = ('{"id": "%s", "kind": "culvert_gauge", "profile": "g", "address": {"transport": "mqtt"},'
...        ' "location": {"latitude": 23.1, "longitude": 113.2}, "tags": {"batch": "3"}}')
>>> maker = EntryMaker()
>>> a, b = maker.entry(Device.model_validate_json(doc % "CG-1")), maker.entry(Device.model_validate_json(doc % "CG-2"))
>>> a.tags is b.tags and a.kind is b.kind, a.location.latitude, dict(a.tags)
(True, 23.1, {'batch': '3'})
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from device_drivers.modbus import Endpoint
from device_registry import Device, DeviceStatus, Transport

V = TypeVar("V")
_NO_TAGS: Mapping[str, str] = MappingProxyType({})
_NO_THRESHOLDS: Mapping[str, Mapping[str, float]] = MappingProxyType({})


class Position(NamedTuple):
    """A device's place (WGS84 degrees) as the rules read it (:class:`rules.watched.Place`)."""

    latitude: float
    longitude: float
    landmark: str = ""


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """What the gateway keeps of a registered device.

    ``tags`` and ``thresholds`` are read-only views shared between devices with equal ones; they
    take no part in the hash (equal entries still hash equal).
    """

    id: str
    kind: str
    profile: str
    status: DeviceStatus
    transport: Transport
    poll_interval_s: float
    endpoint: Endpoint | None = None  # Modbus devices only
    unit: int = 0
    site: str = ""
    groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=lambda: _NO_TAGS, hash=False)
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: _NO_THRESHOLDS, hash=False)
    latitude: float = 0.0
    longitude: float = 0.0
    landmark: str = ""
    area: str = ""

    @property
    def is_modbus(self) -> bool:
        return self.endpoint is not None

    @property
    def location(self) -> Position:
        return Position(self.latitude, self.longitude, self.landmark)

    @property
    def polled_as(self) -> tuple[Any, ...]:
        """What decides how the poller reads the device: a change elsewhere (tags, site) does not re-plan its polls."""
        return (self.kind, self.profile, self.status, self.transport, self.poll_interval_s, self.endpoint, self.unit)


class EntryMaker:
    """Makes :class:`DeviceEntry` objects whose equal parts are one shared object each."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._values: dict[Hashable, Any] = {}
        self._endpoints: dict[Endpoint, Endpoint] = {}

    def text(self, value: str) -> str:
        return self._texts.setdefault(value, value)

    def entry(self, device: Device, device_id: str | None = None) -> DeviceEntry:
        """The entry of ``device``; ``device_id``: a string equal to ``device.id`` to keep instead (one copy)."""
        text = self.text
        endpoint: Endpoint | None = None
        unit = 0
        if device.transport.is_modbus:
            endpoint = Endpoint.of(device.address)  # type: ignore[arg-type]
            endpoint = self._endpoints.setdefault(endpoint, endpoint)
            unit = int(device.address.unit)  # type: ignore[union-attr]
        tags, thresholds, location = device.tags, device.thresholds, device.location
        return DeviceEntry(
            device_id if device_id == device.id else device.id, text(device.kind), text(device.profile),
            device.status, device.transport, self._shared(("interval", device.poll_interval_s),
                                                          lambda: device.poll_interval_s),
            endpoint, unit, text(device.site),
            self._shared(("groups", device.groups), lambda: tuple(text(g) for g in device.groups)),
            self._shared(("tags", *tags.items()), lambda: MappingProxyType({text(k): text(v) for k, v in tags.items()}))
            if tags else _NO_TAGS,
            self._shared(("thresholds", *((metric, *levels.items()) for metric, levels in thresholds.items())),
                         lambda: MappingProxyType({text(m): MappingProxyType({text(level): value
                                                                              for level, value in levels.items()})
                                                   for m, levels in thresholds.items()}))
            if thresholds else _NO_THRESHOLDS,
            location.latitude, location.longitude, text(location.landmark), text(device.area))

    def _shared(self, key: Hashable, make: Callable[[], V]) -> V:
        try:
            return self._values[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._values[key] = make()
            return value
