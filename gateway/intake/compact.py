"""Whole devices kept for 100,000 devices without 3 kB each: equal parts are shared.

A validated :class:`~device_registry.Device` is about 3 kB, most of it bookkeeping repeated in every
device: each pydantic model carries its own set of the field names that were given (0.7 kB for a
device, 0.2 kB for its location and its address), and each device its own copies of texts, tags and
thresholds that thousands of devices have in common (``culvert_gauge``, ``{"batch": "3"}``,
``{"water_level_mm": {"orange": 500, "red": 800}}``). A gateway composed with the rules engine keeps
every device (``DeviceDirectory(keep_devices=True)``): 100,000 of them were 300 MB on their own.

:meth:`DeviceCompactor.compact` rewrites a freshly validated device in place so these parts are
one shared object each; it stays an equal, valid, frozen ``Device`` (about 1.2 kB). The shared
dicts must not be mutated — no code mutates a device's dicts, the model being frozen.

>>> from device_registry import Device
>>> doc = ('{"id": "%s", "kind": "culvert_gauge", "profile": "g", "address": {"transport": "mqtt"},'
...        ' "location": {"latitude": 23.1, "longitude": 113.2}, "tags": {"batch": "3"}}')
>>> compactor = DeviceCompactor()
>>> a = compactor.compact(Device.model_validate_json(doc % "CG-1"))
>>> b = compactor.compact(Device.model_validate_json(doc % "CG-2"))
>>> a.tags is b.tags and a.address is b.address and a.model_fields_set is b.model_fields_set
True
>>> a == Device.model_validate_json(doc % "CG-1")
True
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, TypeVar

from pydantic import BaseModel

from device_registry import Device

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V")


class DeviceCompactor:
    """Rewrites devices so that equal texts, tags, thresholds, groups and field-name sets are shared."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._values: dict[Hashable, Any] = {}
        self._field_sets: dict[frozenset[str], set[str]] = {}

    def text(self, value: str) -> str:
        return self._texts.setdefault(value, value)

    def compact(self, device: Device) -> Device:
        """``device``, changed in place (it must not be shared yet) and returned."""
        text = self.text
        values = device.__dict__
        for name in ("kind", "profile", "site", "notes"):
            values[name] = text(values[name])
        values["groups"] = self._shared(("groups", device.groups), lambda: tuple(text(g) for g in device.groups))
        tags = device.tags
        values["tags"] = self._shared(("tags", *tags.items()), lambda: {text(k): text(v) for k, v in tags.items()})
        thresholds = device.thresholds
        key = ("thresholds", *((metric, *levels.items()) for metric, levels in thresholds.items()))
        values["thresholds"] = self._shared(key, lambda: {
            text(m): {text(level): value for level, value in levels.items()} for m, levels in thresholds.items()})
        values["address"] = self._shared(device.address, lambda: self._model(device.address))
        values["location"] = self._model(device.location)
        self._share_fields_set(device)
        return device

    def _shared(self, key: Hashable, make: Any) -> Any:
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = make()
            return value

    def _model(self, model: M) -> M:
        values = model.__dict__
        for name, value in values.items():
            if type(value) is str:
                values[name] = self.text(value)
        self._share_fields_set(model)
        return model

    def _share_fields_set(self, model: BaseModel) -> None:
        given = model.__pydantic_fields_set__
        shared = self._field_sets.setdefault(frozenset(given), given)
        object.__setattr__(model, "__pydantic_fields_set__", shared)
