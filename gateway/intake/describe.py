"""A served device and its state as the gateway's HTTP API shows it (``/devices/{id}/state``)."""

from __future__ import annotations

from typing import Any

from gateway.intake.device_state import DeviceState
from gateway.intake.entry import DeviceEntry


def describe_device(entry: DeviceEntry, state: DeviceState | None) -> dict[str, Any]:
    """The registry's view of ``entry`` with what the gateway knows of it now (None: nothing heard yet)."""
    return {
        "device_id": entry.id, "kind": entry.kind, "profile": entry.profile, "transport": entry.transport.value,
        "status": entry.status.value, "poll_interval_s": entry.poll_interval_s if entry.is_modbus else None,
        "online": state.online if state is not None else None,
        "since": state.since.isoformat() if state is not None and state.since is not None else None,
        "source": state.source if state is not None else None,
        "detail": state.detail if state is not None else None,
        "failed_polls": state.failures if state is not None else 0,
        "partial_polls": state.partial_polls if state is not None else 0,
        "refused_blocks": {block: {"since": r.since.isoformat(), "reason": r.reason, "metrics": list(r.metrics)}
                           for block, r in ((state.refused_blocks or {}).items() if state is not None else ())},
    }
