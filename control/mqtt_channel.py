"""Commands over MQTT: publish to the device's ``cmd`` topic, wait for its ``cmd/ack`` with the same id.

The contract (docs/mqtt.md; the message is :class:`device_drivers.mqtt.Command`, the same model the
documented parser ``parse_command`` checks)::

    streetwatch/devices/{id}/cmd      {"id": "42", "action": "set_dim", "params": {"level_pct": 50},
                                       "expires_at": "2026-12-21T10:15:00Z"}          QoS 1
    streetwatch/devices/{id}/cmd/ack  {"id": "42", "ok": true}  or  {"id": "42", "ok": false, "error": "…"}

The id is the delivery's id and stays the same on every attempt, so an acknowledgement that comes
late, after a retry went out, still confirms the delivery. A device should carry out a command id
once and ack repeats again. The channel keeps its own connection (made by the process's
:class:`~streetwatch.mqtt.MqttTransport`, so with its TLS settings) and reconnects with backoff; while
it is down, attempts fail and the dispatcher retries them.

The gateway trusts no acknowledgement it did not ask for: one counts only if its id was sent (the
publish began) to the device of the ack's topic, and arrives before the command's ``expires_at``.
Anything else is refused, counted by reason (:class:`AckCounters`) and handed to ``on_refused``
(the gateway keeps it as a dead letter).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import aiomqtt
from pydantic import BaseModel, ConfigDict, ValidationError

from control.channel import DeliveryJob
from control.errors import DeliveryError, DeliveryRejected
from device_drivers.mqtt import Command, encode_message
from streetwatch import topics
from streetwatch.clock import Clock, SystemClock
from streetwatch.figures import show
from streetwatch.mqtt import MqttLink, MqttTransport

log = logging.getLogger(__name__)


class AckMessage(BaseModel):
    """What a device answers on ``cmd/ack``; fields it adds beyond these are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    ok: bool = True
    error: str | None = None


@dataclass
class _Waiter:
    device_id: str
    expires_at: datetime
    ack: asyncio.Future[AckMessage]
    sent: bool = False


class AckRefusal:
    """Why an acknowledgement did not count (stable codes: counted and stored as dead letters)."""

    UNREADABLE = "ack_unreadable"
    UNKNOWN_COMMAND = "ack_unknown_command"
    WRONG_DEVICE = "ack_wrong_device"
    NOT_SENT = "ack_not_sent"
    EXPIRED = "ack_expired"


@dataclass(frozen=True, slots=True)
class RefusedAck:
    """An acknowledgement that was refused: when, from which topic, why, and what it said."""

    at: datetime
    device_id: str
    topic: str
    reason: str
    detail: str
    payload: bytes


@dataclass
class AckCounters:
    """What an operator watches: acks received, those that confirmed a command, those refused by reason."""

    received: int = 0
    confirmed: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def unreadable(self) -> int:
        return self.refused.get(AckRefusal.UNREADABLE, 0)

    @property
    def unmatched(self) -> int:
        return self.refused.get(AckRefusal.UNKNOWN_COMMAND, 0)

    @property
    def wrong_device(self) -> int:
        return self.refused.get(AckRefusal.WRONG_DEVICE, 0)


class MqttChannel:
    """A :class:`~control.channel.DeliveryChannel` with its own broker connection (health record ``control``).

    >>> async with MqttChannel(transport, client_id="gw-1-cmd") as channel:  # doctest: +SKIP
    ...     await dispatcher_using(channel)
    """

    def __init__(self, transport: MqttTransport, *, client_id: str = "streetwatch-control",
                 connect_timeout_s: float = 5.0, clock: Clock | None = None,
                 on_refused: Callable[[RefusedAck], None] | None = None) -> None:
        self.client_id = client_id
        self._link = MqttLink(transport, "control", identifier=client_id, purpose="commands wait and retry",
                              on_connect=self._subscribe, on_message=self._received,
                              connect_timeout_s=connect_timeout_s, clean_session=True)
        self._waiters: dict[str, _Waiter] = {}
        self.acks = AckCounters()
        self.clock: Clock = clock or SystemClock()
        self._on_refused = on_refused

    @property
    def where(self) -> str:
        return self._link.where

    async def __aenter__(self) -> Self:
        await self._link.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await self._link.__aexit__(exc_type, exc, tb)
        finally:
            for waiter in self._waiters.values():
                waiter.ack.cancel()
            self._waiters.clear()

    async def wait_connected(self, timeout_s: float) -> None:
        await self._link.wait_connected(timeout_s)

    @staticmethod
    async def _subscribe(client: aiomqtt.Client) -> None:
        await client.subscribe(topics.ACK_SUBSCRIPTION, qos=1)

    def _received(self, message: aiomqtt.Message) -> None:
        self._on_message(message.topic.value, message.payload)

    def _refuse(self, device_id: str, topic: str, reason: str, detail: str, payload: bytes) -> None:
        self.acks.refused[reason] = self.acks.refused.get(reason, 0) + 1
        if self._on_refused is not None:
            self._on_refused(RefusedAck(self.clock.now(), device_id, topic, reason, detail, payload))

    def _on_message(self, topic: str, payload: Any) -> None:
        parsed = topics.parse_device_topic(topic)
        if parsed is None or parsed.kind != "cmd/ack":
            return
        self.acks.received += 1
        raw = bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload or "").encode()
        try:
            ack = AckMessage.model_validate_json(raw)
        except ValidationError as exc:
            self._refuse(parsed.device_id, topic, AckRefusal.UNREADABLE, str(exc.errors()[0]["msg"]), raw)
            return
        waiter = self._waiters.get(ack.id)
        if waiter is None:  # never sent, finished already, or another gateway's
            self._refuse(parsed.device_id, topic, AckRefusal.UNKNOWN_COMMAND, f"no open command {ack.id[:40]!r}",
                         raw)
            return
        if waiter.device_id != parsed.device_id:
            log.warning("ack for command %s came from %s, but it was sent to %s", ack.id, parsed.device_id,
                        waiter.device_id)
            self._refuse(parsed.device_id, topic, AckRefusal.WRONG_DEVICE,
                         f"command {ack.id} was sent to {waiter.device_id}", raw)
            return
        if not waiter.sent:
            self._refuse(parsed.device_id, topic, AckRefusal.NOT_SENT, f"command {ack.id} was not sent yet", raw)
            return
        now = self.clock.now()
        if now >= waiter.expires_at:
            self._refuse(parsed.device_id, topic, AckRefusal.EXPIRED,
                         f"command {ack.id} expired at {waiter.expires_at.isoformat()}", raw)
            return
        if not waiter.ack.done():
            self.acks.confirmed += 1
            waiter.ack.set_result(ack)

    async def deliver(self, job: DeliveryJob) -> None:
        client = self._link.client
        if client is None:
            raise DeliveryError(f"not connected to the MQTT broker at {self.where}: {self._link.health.reason}")
        key = str(job.delivery_id)
        waiter = self._waiters.get(key)
        if waiter is None:
            waiter = self._waiters[key] = _Waiter(job.device.id, job.expires_at,
                                                  asyncio.get_running_loop().create_future())
        message = encode_message(Command(id=key, action=job.action.value, params=job.params,
                                         expires_at=job.expires_at))
        if not waiter.ack.done():  # a late ack of an earlier attempt may have confirmed it already
            waiter.sent = True  # before the publish: a quick device may answer before our PUBACK arrives
            try:
                await client.publish(topics.command(job.device.id), message, qos=1,
                                     timeout=job.timeout_s)
            except aiomqtt.MqttError as exc:
                raise DeliveryError(f"could not publish to the broker: {exc}") from None
            try:
                await asyncio.wait_for(asyncio.shield(waiter.ack), job.timeout_s)
            except TimeoutError:
                raise DeliveryError(f"no acknowledgement within {show(job.timeout_s)} s") from None
        ack = waiter.ack.result()
        self.release(job.delivery_id)
        if not ack.ok:
            raise DeliveryRejected(f"the device refused: {ack.error or 'no reason given'}")

    def release(self, delivery_id: int) -> None:
        waiter = self._waiters.pop(str(delivery_id), None)
        if waiter is not None and not waiter.ack.done():
            waiter.ack.cancel()
