"""Whether each device is online, from what the gateway sees: polls, MQTT status messages, telemetry.

A Modbus device goes offline after ``offline_after_failures`` failed polls in a row and comes back
on the first success. A poll that is answered but has a block refused (a Modbus exception on some
registers) keeps the device online and is counted as a partial poll; each refused block is
logged once when it starts failing and once when it answers again, and handed to the fault listeners
(the fan-out tells the rules, which raise a device fault alert when it lasts). An MQTT device is what its
(retained) status message or last will says,
and online again as soon as its telemetry arrives. Each change is handed to the listeners (the
recorder stores it, the fan-out tells the rules), and each outage is logged once, when it begins,
and once more when it ends: a dead device does not write a line per poll.

Time is given (``at``), never read here.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.intake.records import StatusChange
from streetwatch.block_faults import BlockFault

log = logging.getLogger(__name__)

MODBUS = "modbus"
MQTT_STATUS = "mqtt-status"
MQTT_TELEMETRY = "mqtt-telemetry"

Listener = Callable[[StatusChange], None]
FaultListener = Callable[[BlockFault], None]


@dataclass(slots=True)
class DeviceState:
    online: bool | None  # None: not known yet
    since: datetime | None
    source: str = ""
    detail: str = ""
    failures: int = 0  # failed polls in a row
    partial_polls: int = 0  # answered polls with at least one block refused, since the gateway started
    # block → since when, why; None while nothing is refused (most devices: an empty dict each would
    # cost 64 bytes a device, 6 MB with 100,000 of them)
    refused_blocks: dict[str, RefusedSince] | None = None


@dataclass(frozen=True, slots=True)
class RefusedSince:
    since: datetime
    reason: str
    metrics: tuple[str, ...]


class DeviceStates:
    """Online/offline per device; :meth:`listen` to hear each change."""

    def __init__(self, *, offline_after_failures: int = 3) -> None:
        if offline_after_failures < 1:
            raise ValueError("offline_after_failures must be at least 1")
        self.offline_after_failures = offline_after_failures
        self._states: dict[str, DeviceState] = {}
        self._listeners: list[Listener] = []
        self._fault_listeners: list[FaultListener] = []
        self.online = 0
        self.offline = 0

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def listen_faults(self, listener: FaultListener) -> None:
        """Hear each register block that starts being refused, and each that answers again."""
        self._fault_listeners.append(listener)

    def get(self, device_id: str) -> DeviceState | None:
        return self._states.get(device_id)

    def restore(self, states: Mapping[str, StatusChange]) -> None:
        """Start from the states recorded before a restart (no events, no log lines per device)."""
        for device_id, change in states.items():
            self._count(self._states.get(device_id), -1)
            state = DeviceState(change.online, change.at, change.source, change.detail)
            self._states[device_id] = state
            self._count(state, +1)
        if self.offline:
            log.warning("%d device(s) were offline when the gateway last stopped", self.offline)

    def forget(self, device_ids: Iterable[str]) -> None:
        """Devices no longer served (retired): they count neither online nor offline."""
        for device_id in device_ids:
            self._count(self._states.pop(device_id, None), -1)

    # -- what happened ---------------------------------------------------------------------------

    def poll_succeeded(self, device_id: str, at: datetime,
                       refused: Mapping[str, tuple[str, tuple[str, ...]]] | None = None) -> None:
        """A poll was answered; ``refused``: block → (why, metrics) for each block the device refused."""
        state = self._state(device_id)
        state.failures = 0
        refused = refused or {}
        if refused:
            state.partial_polls += 1
        known = state.refused_blocks or {}
        for block in [b for b in known if b not in refused]:
            log.info("device %s answers %s again", device_id, block, extra={"device_id": device_id})
            was = known.pop(block)
            self._fault(BlockFault(device_id, block, was.reason, was.metrics, was.since, at, answered=True))
        for block, (reason, metrics) in refused.items():
            if block not in known:
                log.warning("device %s refuses %s (no %s): %s", device_id, block, ", ".join(metrics), reason,
                            extra={"device_id": device_id})
                known[block] = RefusedSince(at, reason, metrics)
                self._fault(BlockFault(device_id, block, reason, metrics, at, at))
        state.refused_blocks = known or None
        if state.online is not True:
            detail = "poll answered" + (f", {len(refused)} block(s) refused" if refused else "")
            self._change(device_id, state, True, at=at, source=MODBUS, detail=detail)

    def poll_failed(self, device_id: str, at: datetime, error: str) -> None:
        state = self._state(device_id)
        state.failures += 1
        if state.failures >= self.offline_after_failures and state.online is not False:
            # Interned: the devices behind one unreachable converter share one text (80,000 offline
            # devices kept 10 MB of equal texts otherwise).
            self._change(device_id, state, False, at=at, source=MODBUS,
                         detail=sys.intern(f"{state.failures} polls failed: {error}"))
        elif state.online is not False:
            log.debug("device %s: poll failed (%d in a row): %s", device_id, state.failures, error)

    def reported(self, device_id: str, online: bool, at: datetime, detail: str = "") -> None:
        """The device's own status message (or its last will) says ``online``."""
        state = self._state(device_id)
        if state.online is not online:
            self._change(device_id, state, online, at=at, source=MQTT_STATUS,
                         detail=detail or ("online" if online else "offline"))

    def seen(self, device_id: str, at: datetime) -> None:
        """Telemetry arrived from the device: it is online."""
        state = self._states.get(device_id)
        if state is None or state.online is not True:
            self._change(device_id, self._state(device_id), True, at=at, source=MQTT_TELEMETRY,
                         detail="telemetry arrived")

    # -- bookkeeping -----------------------------------------------------------------------------

    def _state(self, device_id: str) -> DeviceState:
        state = self._states.get(device_id)
        if state is None:
            state = self._states[device_id] = DeviceState(None, None)
        return state

    def _fault(self, fault: BlockFault) -> None:
        for listener in self._fault_listeners:
            listener(fault)

    def _count(self, state: DeviceState | None, step: int) -> None:
        if state is None or state.online is None:
            return
        if state.online:
            self.online += step
        else:
            self.offline += step

    def _change(self, device_id: str, state: DeviceState, online: bool, *, at: datetime, source: str,
                detail: str) -> None:
        was, since = state.online, state.since
        self._count(state, -1)
        state.online, state.since, state.source, state.detail = online, at, source, detail
        self._count(state, +1)
        if not online:
            log.warning("device %s is offline (%s): %s", device_id, source, detail, extra={"device_id": device_id})
        elif was is False:
            lasted = f" after {_duration(at - since)}" if since is not None else ""
            log.info("device %s is back online%s (%s)", device_id, lasted, source, extra={"device_id": device_id})
        change = StatusChange(device_id, online, at, source, detail)
        for listener in self._listeners:
            listener(change)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
