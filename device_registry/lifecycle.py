"""Which status changes a device may make: registered → commissioned → active, maintenance, retired.

Commissioning (``device probe ID --commission``) is what moves a device out of ``registered``; a
retired device comes back only as ``registered`` and is commissioned again, because whatever was
installed in its place has not been probed.
"""

from __future__ import annotations

from device_registry.device import DeviceStatus
from device_registry.errors import StatusChangeRefused

S = DeviceStatus
ALLOWED: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    S.registered: frozenset({S.commissioned, S.maintenance, S.retired}),
    S.commissioned: frozenset({S.active, S.registered, S.maintenance, S.retired}),
    S.active: frozenset({S.commissioned, S.maintenance, S.retired}),
    S.maintenance: frozenset({S.active, S.commissioned, S.registered, S.retired}),
    S.retired: frozenset({S.registered}),
}


def check_status_change(current: DeviceStatus, wanted: DeviceStatus) -> None:
    """Raise :class:`StatusChangeRefused` unless ``current → wanted`` is allowed (staying put is)."""
    if wanted == current or wanted in ALLOWED[current]:
        return
    if current is S.retired:
        hint = "; a retired device comes back as registered, then is commissioned again"
    elif wanted is S.active:
        hint = "; commission it first (streetwatch device probe ID --commission)"
    else:
        hint = f"; from {current.value} it may become {', '.join(sorted(s.value for s in ALLOWED[current]))}"
    raise StatusChangeRefused(current.value, wanted.value, hint)
