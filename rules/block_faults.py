"""Device fault alerts for register blocks a Modbus device refuses: ``modbus-block-refused``.

A device that answers its polls but refuses one block of registers (a Modbus exception every poll) is
online, yet some of its metrics never arrive. The gateway says when a block starts being refused and
when it answers again (:class:`~streetwatch.block_faults.BlockFault`); once a block has been refused for
the fault window, this raises the alert ``modbus-block-refused`` for the device, naming the block and
the exception, and clears it when every refused block answers again.

The window and severity are those of the absence rule that watches the device (the shortest, when
several do): a block refused that long is as bad as the device being silent that long. Without one,
the window is 15 minutes and the severity the lowest; ``[gateway] modbus_block_fault_after_s`` sets
the window for every device.

After a restart the gateway does not know which blocks were refused: an open fault alert is kept,
and cleared if no refusal of that device is reported within its window (the first poll would say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from rules.alerts import Alert, AlertEvent, AlertTransition
from rules.durations import format_duration_s
from rules.evidence import Evidence
from rules.index import RuleIndex
from rules.severity import SeverityScale
from rules.transitions import RankChange, clear_transition, make_transition
from rules.watched import WatchedDevice
from streetwatch.block_faults import BlockFault

FAULT_RULE = "modbus-block-refused"
DEFAULT_AFTER_S = 900.0


@dataclass(frozen=True, slots=True)
class FaultPolicy:
    """For one device: how long a block may be refused before the alert, and at which rank of ``scale``."""

    device: WatchedDevice
    after_s: float
    scale: SeverityScale
    rank: int


def fault_policy(device: WatchedDevice | None, index: RuleIndex, scale: SeverityScale,
                 after_s: float | None) -> FaultPolicy | None:
    """The policy for ``device`` (None: not watched) from the absence rules that watch it (``after_s``: the
    window, if set)."""
    if device is None:
        return None
    shortest = min(index.absence_for(device), key=lambda rt: rt.spec.after_s, default=None)
    if shortest is None:
        return FaultPolicy(device, after_s or DEFAULT_AFTER_S, scale, 1)
    return FaultPolicy(device, after_s or shortest.spec.after_s, scale, shortest.rank)


@dataclass(slots=True)
class _Device:
    blocks: dict[str, BlockFault] = field(default_factory=dict)  # refused now, by block
    raised: AlertTransition | Alert | None = None  # the open fault alert (an Alert: kept from before a restart)
    confirm_by: float | None = None  # kept from before a restart: cleared unless a refusal comes by then


class BlockFaults:
    """The fault alerts of refused blocks; :meth:`observe` each fault, :meth:`tick` every second or so."""

    def __init__(self, policy: Callable[[str], FaultPolicy | None], emit: Callable[[AlertTransition], None],
                 seqs: Iterator[int]) -> None:
        self._policy = policy
        self._emit = emit
        self._seqs = seqs
        self._devices: dict[str, _Device] = {}

    def __len__(self) -> int:
        return len(self._devices)

    def adopt(self, alerts: Iterable[Alert], now: datetime) -> None:
        """Take up the open fault alerts stored before a restart."""
        for alert in alerts:
            policy = self._policy(alert.device_id)
            window = policy.after_s if policy is not None else 0.0
            self._devices[alert.device_id] = _Device(raised=alert, confirm_by=now.timestamp() + window)
        self.tick(now)

    def observe(self, fault: BlockFault, now: datetime) -> None:
        """A block started being refused, or answers again."""
        entry = self._devices.get(fault.device_id)
        if fault.answered:
            if entry is not None and entry.blocks.pop(fault.block, None) is not None and not entry.blocks:
                del self._devices[fault.device_id]
                self._clear(entry, now, f"{fault.block} answers again")
        else:
            entry = self._devices.setdefault(fault.device_id, _Device())
            entry.blocks[fault.block] = fault
            entry.confirm_by = None
        self.tick(now)

    def tick(self, now: datetime) -> None:
        """Raise the alerts whose window has passed; clear those of devices no longer watched or not confirmed."""
        t = now.timestamp()
        for device_id, entry in list(self._devices.items()):
            policy = self._policy(device_id)
            if policy is None or (entry.confirm_by is not None and entry.confirm_by <= t):
                del self._devices[device_id]
                self._clear(entry, now, "device removed or not watched" if policy is None
                            else "no block refused since the gateway started")
            elif entry.raised is None and entry.blocks:
                since = min(fault.since for fault in entry.blocks.values())
                if t - since.timestamp() >= policy.after_s:
                    entry.raised = self._raise(policy, entry, t - since.timestamp(), now)

    def _raise(self, policy: FaultPolicy, entry: _Device, age_s: float, now: datetime) -> AlertTransition:
        refused = "; ".join(f"{f.block} refused: {f.reason} (no {', '.join(f.metrics)})"
                            for f in entry.blocks.values())
        message = f"{refused}; at every poll for {format_duration_s(age_s)}"
        transition = make_transition(next(self._seqs), FAULT_RULE, policy.device.id, device=policy.device,
                                     evidence=Evidence(policy.rank), change=RankChange(policy.scale, 0, policy.rank),
                                     now=now, message=message)
        self._emit(transition)
        return transition

    def _clear(self, entry: _Device, now: datetime, why: str) -> None:
        raised = entry.raised
        if isinstance(raised, Alert):
            self._emit(clear_transition(next(self._seqs), raised, now, why))
        elif raised is not None:
            self._emit(replace(raised, seq=next(self._seqs), event=AlertEvent.cleared,
                               previous_severity=raised.severity, at=now, message=why, arrived_monotonic=None))
