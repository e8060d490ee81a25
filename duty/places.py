"""Where an alert is, for responsibility: its device's area and groups from the device registry.

An alert of a group rule (``site:…``, ``group:…``) or of a device the registry does not know is placed
at the root area, so the city's duty officer hears of it rather than nobody.
"""

from __future__ import annotations

from device_registry import Registry
from duty.escalation import PlaceOf
from duty.recipients import Place
from people import ROOT_AREA
from rules.alerts import Alert


def registry_places(registry: Registry) -> PlaceOf:
    async def place_of(alert: Alert) -> Place:
        if alert.device_id.startswith("group:"):
            return Place(alert.device_id, ROOT_AREA, (alert.device_id.removeprefix("group:"),))
        device = await registry.get(alert.device_id)
        if device is None:
            return Place(alert.device_id, ROOT_AREA)
        return Place(device.id, device.area or ROOT_AREA, device.groups, device.tags.get("parent") or None)

    return place_of
