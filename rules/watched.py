"""What the rules read of a device: a :class:`~device_registry.Device` has it, and so has any lighter form.

The rules engine looks at a device's kind, profile, site, groups, tags, own thresholds, status and
position, nothing else. A running gateway with 100,000 devices keeps a compact entry per device
(``gateway.intake.entry.DeviceEntry``, about 0.2 kB) rather than a validated ``Device`` (about
1 kB even with its equal parts shared); both satisfy :class:`WatchedDevice`.

>>> from device_registry import Device
>>> doc = '{"id": "CG-1", "kind": "culvert_gauge", "profile": "g", "address": {"transport": "mqtt"},' \\
...       ' "location": {"latitude": 23.1, "longitude": 113.2}}'
>>> device: WatchedDevice = Device.model_validate_json(doc)
>>> device.location.latitude
23.1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from device_registry.device import DeviceStatus


class Place(Protocol):
    """Where a device stands (WGS84 degrees), and what marks the spot."""

    @property
    def latitude(self) -> float: ...

    @property
    def longitude(self) -> float: ...

    @property
    def landmark(self) -> str: ...


class WatchedDevice(Protocol):
    """A device as the rules see it (read-only)."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def profile(self) -> str: ...

    @property
    def site(self) -> str: ...

    @property
    def area(self) -> str: ...

    @property
    def groups(self) -> tuple[str, ...]: ...

    @property
    def tags(self) -> Mapping[str, str]: ...

    @property
    def thresholds(self) -> Mapping[str, Mapping[str, float]]: ...

    @property
    def status(self) -> DeviceStatus: ...

    @property
    def location(self) -> Place: ...
