"""Messages from senders the gateway does not know: held a moment, then refused — in bounded memory.

A device imported a second ago may already be publishing while the gateway's directory has not
seen the registry change yet. So a message from an unknown sender is first *held* (not
acknowledged, so a crash loses nothing: the broker sends it again) for up to ``hold_s`` while the
directory checks the registry; if the device turns up, the message is handled as any other, and
only if it does not is it refused as "not registered".

Everything here is bounded, whatever a flood of made-up device ids brings: at most
``max_messages`` messages and ``max_bytes`` of payload are held (the rest is refused at once), and
:class:`LogLimiter` writes a line for at most ``burst`` new senders a minute and counts the rest
in one summary line.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from gateway.intake.mqtt_publish import Publish

log = logging.getLogger(__name__)


class HeldMessages:
    """Messages waiting to learn whether their sender was just registered.

    >>> held = HeldMessages(hold_s=3.0, max_messages=1, max_bytes=100)
    >>> first, second = Publish("t", b"{}", 1, 1, False), Publish("t", b"{}", 1, 2, False)
    >>> held.hold("CG-9", first, now=0.0), held.hold("CG-8", second, now=0.0)
    (True, False)
    >>> held.take(lambda device_id: False, now=1.0), len(held)
    (([], []), 1)
    >>> [m.mid for m in held.take(lambda device_id: False, now=3.0)[1]]
    [1]
    """

    def __init__(self, *, hold_s: float, max_messages: int, max_bytes: int) -> None:
        self.hold_s = hold_s
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: deque[tuple[float, str, Publish]] = deque()  # (until, device id, message), oldest first
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def next_deadline(self) -> float | None:
        return self._items[0][0] if self._items else None

    def hold(self, device_id: str, message: Publish, *, now: float) -> bool:
        """Keep ``message`` until ``now + hold_s``; False when full (refuse it now)."""
        size = len(message.payload) + len(message.topic)
        if self.hold_s <= 0 or len(self._items) >= self.max_messages or self._bytes + size > self.max_bytes:
            return False
        self._items.append((now + self.hold_s, device_id, message))
        self._bytes += size
        return True

    def take(self, known: Callable[[str], bool], *, now: float) -> tuple[list[Publish], list[Publish]]:
        """(messages whose sender is known now, messages held long enough); both leave, in arrival order."""
        ready: list[Publish] = []
        expired: list[Publish] = []
        kept: deque[tuple[float, str, Publish]] = deque()
        for item in self._items:
            until, device_id, message = item
            if known(device_id):
                ready.append(message)
            elif until <= now:
                expired.append(message)
            else:
                kept.append(item)
                continue
            self._bytes -= len(message.payload) + len(message.topic)
        self._items = kept
        return ready, expired

    def clear(self) -> None:
        """Forget everything (the session ended: the broker sends what was not acknowledged again)."""
        self._items.clear()
        self._bytes = 0


class LogLimiter:
    """One warning per new unknown sender, at most ``burst`` a minute; the rest counted in a summary line.

    >>> limiter = LogLimiter(burst=1, period_s=60.0)
    >>> limiter.first("CG-1", now=0.0), limiter.first("CG-1", now=1.0), limiter.first("CG-2", now=2.0)
    (True, False, False)
    >>> limiter.unlogged_messages   # CG-2's message, over the burst (CG-1's second is from a sender logged once)
    1
    """

    def __init__(self, *, burst: int = 10, period_s: float = 60.0, remember: int = 10_000) -> None:
        self.burst = burst
        self.period_s = period_s
        self.remember = remember
        self.unlogged_messages = 0  # since the last summary
        self._unlogged_senders: set[str] = set()
        self._logged: set[str] = set()
        self._period_start: float | None = None
        self._logged_in_period = 0

    def first(self, device_id: str, *, now: float) -> bool:
        """Whether to log this message from ``device_id`` (its first, within the burst); else it is counted."""
        if self._period_start is None:
            self._period_start = now
        elif now - self._period_start >= self.period_s:
            self._summarise()
            self._period_start, self._logged_in_period = now, 0
        if device_id not in self._logged and self._logged_in_period < self.burst and len(self._logged) < self.remember:
            self._logged.add(device_id)
            self._logged_in_period += 1
            return True
        if device_id not in self._logged:
            self.unlogged_messages += 1
            if len(self._unlogged_senders) < self.remember:
                self._unlogged_senders.add(device_id)
        return False

    def _summarise(self) -> None:
        if self.unlogged_messages:
            senders = len(self._unlogged_senders)
            log.warning("%d more message(s) from %s%d unregistered sender(s) not logged one by one in the last %.0f s "
                        "(see `streetwatch device pending`)", self.unlogged_messages,
                        "at least " if senders >= self.remember else "", senders, self.period_s)
        self.unlogged_messages = 0
        self._unlogged_senders.clear()
