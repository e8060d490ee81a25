"""Commands over MQTT: publish to the device's ``cmd`` topic, wait for its ``cmd/ack`` with the same id.

The contract (docs/mqtt.md; the message is :class:`device_drivers.mqtt.Command`, the same model the
documented parser ``parse_command`` checks)::

    streetwatch/devices/{id}/cmd      {"id": "42", "action": "set_dim", "params": {"level_pct": 50},
                                       "expires_at": "2026-12-21T10:15:00Z"}          QoS 1
    streetwatch/devices/{id}/cmd/ack  {"id": "42", "ok": true}  or  {"id": "42", "ok": false, "error": "…"}

The id is the delivery's id and stays the same on every attempt, so an acknowledgement that comes
late, after a retry went out, still confirms the delivery. A device should carry out a command id
once and ack repeats again. The channel keeps its own connection and reconnects with backoff; while
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
from urllib.parse import urlsplit

import aiomqtt
from pydantic import BaseModel, ConfigDict, ValidationError

from control.backoff import Backoff
from control.channel import DeliveryJob
from control.errors import DeliveryError, DeliveryRejected
from device_drivers.mqtt import Command, encode_message
from streetwatch import topics
from streetwatch.clock import Clock, SystemClock
from streetwatch.figures import show

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
    """A :class:`~control.channel.DeliveryChannel` with its own broker connection.

    >>> async with MqttChannel("mqtt://127.0.0.1:1883", client_id="gw-1-cmd") as channel:  # doctest: +SKIP
    ...     await dispatcher_using(channel)
    """

    def __init__(self, mqtt_url: str, *, client_id: str = "streetwatch-control", connect_timeout_s: float = 5.0,
                 reconnect_backoff: Backoff | None = None, clock: Clock | None = None,
                 on_refused: Callable[[RefusedAck], None] | None = None) -> None:
        parts = urlsplit(mqtt_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self._username = parts.username
        self._password = parts.password
        self.client_id = client_id
        self.connect_timeout_s = connect_timeout_s
        self._backoff = reconnect_backoff or Backoff(initial_s=0.5, max_s=30.0)
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._waiters: dict[str, _Waiter] = {}
        self._task: asyncio.Task[None] | None = None
        self.acks = AckCounters()
        self.clock: Clock = clock or SystemClock()
        self._on_refused = on_refused

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"mqtt-channel-{self.client_id}")
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)
        except TimeoutError:
            log.error("MQTT broker %s:%s not reachable yet; commands wait and retry", self.host, self.port)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():  # we are being cancelled too: let it through
                    raise
        for waiter in self._waiters.values():
            waiter.ack.cancel()
        self._waiters.clear()

    async def wait_connected(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def _run(self) -> None:
        outage_logged = False
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, username=self._username, password=self._password,
                                          identifier=self.client_id, clean_session=True) as client:
                    await client.subscribe(topics.ACK_SUBSCRIPTION, qos=1)
                    self._client = client
                    self._connected.set()
                    self._backoff.reset()
                    if outage_logged:
                        log.warning("MQTT broker %s:%s is back; delivering commands again", self.host, self.port)
                        outage_logged = False
                    async for message in client.messages:
                        self._on_message(message.topic.value, message.payload)
            except aiomqtt.MqttError as exc:
                if not outage_logged:
                    log.error("lost the MQTT broker %s:%s (%s); commands wait and retry", self.host, self.port, exc)
                    outage_logged = True
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(self._backoff.failed(loop.time()) - loop.time())

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
        client = self._client
        if client is None:
            raise DeliveryError(f"not connected to the MQTT broker at {self.host}:{self.port}")
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
