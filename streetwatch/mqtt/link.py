"""A client that stays connected: the alert publisher's and the control channel's connection.

``async with MqttLink(transport, "alerts", identifier="gw-alerts") as link`` connects in the
background, reconnects with the transport's backoff, reports to the transport's health record of
that name (connected, or the reason it is not), logs an outage once at ERROR and its end once,
and offers :attr:`MqttLink.client` while connected (None otherwise). ``on_connect`` runs on each
new connection (subscriptions); ``on_message`` gets every message received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import aiomqtt

from streetwatch.mqtt.errors import failure_reason
from streetwatch.mqtt.transport import MqttTransport

log = logging.getLogger(__name__)

OnConnect = Callable[[aiomqtt.Client], Awaitable[None]]
OnMessage = Callable[[aiomqtt.Message], None]


class MqttLink:
    """One long-lived connection of the process (see the module doc); ``__init__`` does no I/O."""

    def __init__(self, transport: MqttTransport, name: str, *, identifier: str, purpose: str,
                 on_connect: OnConnect | None = None, on_message: OnMessage | None = None,
                 connect_timeout_s: float = 5.0, **options: Any) -> None:
        self.transport = transport
        self.name = name
        self.identifier = identifier
        self.purpose = purpose  # for the log: "commands wait and retry", "alert notifications wait"
        self.health = transport.health(name)
        self.connect_timeout_s = connect_timeout_s
        self._on_connect = on_connect
        self._on_message = on_message
        self._options = options
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def client(self) -> aiomqtt.Client | None:
        """The connected client, or None while the broker is unreachable."""
        return self._client

    @property
    def where(self) -> str:
        return self.transport.where

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.name}")
        with contextlib.suppress(TimeoutError):  # _run has said why; the link keeps trying
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout_s)
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
        self.health.down("closed")

    async def wait_connected(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def _run(self) -> None:
        backoff = self.transport.reconnect_backoff()
        loop = asyncio.get_running_loop()
        outage = False
        while True:
            try:
                async with self.transport.client(self.identifier, **self._options) as client:
                    if self._on_connect is not None:
                        await self._on_connect(client)
                    self._client = client
                    self._connected.set()
                    self.health.up()
                    backoff.succeeded()
                    if outage:
                        log.warning("MQTT broker %s is back for the %s", self.where, self.name)
                        outage = False
                    async for message in client.messages:  # ends with MqttError when the connection does
                        if self._on_message is not None:
                            self._on_message(message)
            except aiomqtt.MqttError as exc:
                reason = failure_reason(exc, self.transport.url.username)
                self.health.down(reason)
                if not outage:
                    log.error("MQTT broker %s: %s (%s); %s", self.where, reason, self.name, self.purpose)
                    outage = True
            finally:
                self._client = None
                self._connected.clear()
            now = loop.time()
            await asyncio.sleep(backoff.failed(now) - now)
