"""A register block a Modbus device refuses, as the gateway tells its services (the rules engine raises a
device fault alert from it).

The gateway's device states emit one :class:`BlockFault` when a block starts being refused (every poll
since ``since``) and one with ``answered`` set when it answers again; nothing per poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BlockFault:
    """``device_id`` refuses ``block`` (``holding 0+12``) since ``since`` with ``reason`` (the Modbus exception),
    leaving ``metrics`` without a value; ``answered``: it answers again at ``at``."""

    device_id: str
    block: str
    reason: str
    metrics: tuple[str, ...]
    since: datetime
    at: datetime
    answered: bool = False
