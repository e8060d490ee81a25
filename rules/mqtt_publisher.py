"""Publishing alert notifications to MQTT (QoS 1): the connection is the context manager.

A lost broker is not fatal: the publisher reconnects on the next publish once its backoff allows,
and until then :meth:`publish` raises :class:`~rules.errors.NotificationError`, so the caller
keeps the notification for its next sweep.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from types import TracebackType
from urllib.parse import urlsplit

import aiomqtt

from rules.backoff import Backoff
from rules.errors import NotificationError
from streetwatch.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class MqttAlertPublisher:
    """``async with MqttAlertPublisher("mqtt://127.0.0.1:1883") as mqtt: await mqtt.publish(topic, body)``."""

    def __init__(self, mqtt_url: str, *, client_id: str | None = None, timeout_s: float = 10.0,
                 clock: Clock | None = None) -> None:
        parts = urlsplit(mqtt_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 1883
        self._username = parts.username
        self._password = parts.password
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._clock = clock or SystemClock()
        self._backoff = Backoff(initial_s=0.5, maximum_s=30.0)
        self._client: aiomqtt.Client | None = None
        self._stack: AsyncExitStack | None = None
        self.published = 0

    @property
    def where(self) -> str:
        return f"mqtt://{self._host}:{self._port}"

    async def __aenter__(self) -> MqttAlertPublisher:
        try:
            await self._connect()
        except NotificationError as exc:
            log.error("%s; alert notifications wait for the broker", exc)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._disconnect()

    async def _connect(self) -> aiomqtt.Client:
        if self._client is not None:
            return self._client
        now = self._clock.monotonic()
        if not self._backoff.ready(now):
            wait_s = self._backoff.wait_s(now)
            raise NotificationError(f"MQTT broker {self.where} unavailable (next try in {wait_s:.1f} s)")
        client = aiomqtt.Client(self._host, self._port, username=self._username, password=self._password,
                                identifier=self._client_id, timeout=self._timeout_s)
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(client)
        except aiomqtt.MqttError as exc:
            self._backoff.failed(now)
            raise NotificationError(f"cannot connect to MQTT broker {self.where}: {exc}") from None
        self._backoff.succeeded()
        self._client, self._stack = client, stack
        log.info("publishing alert notifications to %s", self.where)
        return client

    async def _disconnect(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            try:
                await stack.aclose()
            except aiomqtt.MqttError as exc:  # already gone
                log.debug("MQTT disconnect: %s", exc)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgement."""
        client = await self._connect()
        try:
            await client.publish(topic, payload, qos=1, timeout=self._timeout_s)
        except aiomqtt.MqttError as exc:
            await self._disconnect()
            self._backoff.failed(self._clock.monotonic())
            raise NotificationError(f"cannot publish to {self.where}: {exc}") from None
        self.published += 1
