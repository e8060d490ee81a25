"""Publishing alert notifications to MQTT (QoS 1) over the process's transport.

The publisher keeps one connection (:class:`~streetwatch.mqtt.MqttLink`, health record ``alerts``)
that reconnects in the background with backoff. While the broker is unreachable :meth:`publish`
raises :class:`~rules.errors.NotificationError`, so the caller keeps the notification for its
next sweep.
"""

from __future__ import annotations

import logging
from types import TracebackType

import aiomqtt

from rules.errors import NotificationError
from streetwatch.mqtt import MqttLink, MqttTransport

log = logging.getLogger(__name__)


class MqttAlertPublisher:
    """``async with MqttAlertPublisher(transport, client_id="gw-alerts") as mqtt: await mqtt.publish(topic, body)``."""

    def __init__(self, transport: MqttTransport, *, client_id: str | None = None, timeout_s: float = 10.0,
                 connect_timeout_s: float = 5.0) -> None:
        self._timeout_s = timeout_s
        self._link = MqttLink(transport, "alerts", identifier=client_id or "streetwatch-alerts",
                              purpose="alert notifications wait for it", connect_timeout_s=connect_timeout_s,
                              timeout=timeout_s)
        self.published = 0

    @property
    def where(self) -> str:
        return self._link.where

    async def __aenter__(self) -> MqttAlertPublisher:
        await self._link.__aenter__()
        if self._link.client is not None:
            log.info("publishing alert notifications to %s", self.where)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._link.__aexit__(exc_type, exc, tb)

    async def wait_connected(self, timeout_s: float) -> None:
        await self._link.wait_connected(timeout_s)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgement."""
        client = self._link.client
        if client is None:
            raise NotificationError(f"MQTT broker {self.where} unavailable: {self._link.health.reason}")
        try:
            await client.publish(topic, payload, qos=1, timeout=self._timeout_s)
        except aiomqtt.MqttError as exc:  # the link notices the lost connection and reconnects
            raise NotificationError(f"cannot publish to {self.where}: {exc}") from None
        self.published += 1
