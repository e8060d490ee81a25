"""How a command reaches a device: one delivery channel per transport.

A channel makes one *attempt* at a time and says how it went by raising: :class:`DeliveryError`
for a failure worth retrying (no answer, no connection, a read-back that differs),
:class:`DeliveryRejected` when retrying cannot help (the device refused, the profile cannot
express the command). Returning means confirmed: Modbus read the value back, MQTT got the ack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from control.model import Action
from device_registry import Device, Profile


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One attempt to carry out ``action`` on ``device``."""

    delivery_id: int
    device: Device
    profile: Profile
    action: Action
    params: dict[str, Any]
    attempt: int
    timeout_s: float
    expires_at: datetime


class DeliveryChannel(Protocol):
    async def deliver(self, job: DeliveryJob) -> None:
        """Carry out one attempt; return when the device confirmed it."""
        ...

    def release(self, delivery_id: int) -> None:
        """The delivery is finished: forget anything kept for it between attempts."""
        ...
