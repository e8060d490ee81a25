"""One interface for every channel: hand over one message, or raise :class:`~duty.errors.DeliveryError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one address on one channel. ``key`` is the outbox's idempotency key."""

    key: str
    channel: str
    address: str
    subject: str
    body: str
    secret: str = ""


class Adapter(Protocol):
    async def send(self, message: Outgoing) -> None:
        """Deliver ``message`` to its service; :class:`~duty.errors.DeliveryError` when it was not taken."""
        ...


class ConsoleAdapter:
    """The console reads notifications from the outbox itself: handing over is recording."""

    async def send(self, message: Outgoing) -> None:
        del message
