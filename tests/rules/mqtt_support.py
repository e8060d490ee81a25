"""An MQTT subscriber for the tests: collects what arrives on a topic filter, waits with a timeout."""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiomqtt

from streetwatch.mqtt import BrokerUrl, MqttTransport


def host_port(mqtt_url: str) -> tuple[str, int]:
    url = BrokerUrl.parse(mqtt_url)
    return url.host, url.port


class Subscriber:
    def __init__(self, mqtt: str | MqttTransport, topic_filter: str) -> None:
        transport = mqtt if isinstance(mqtt, MqttTransport) else MqttTransport.from_url(mqtt)
        self._client: aiomqtt.Client = transport.client()
        self._filter = topic_filter
        self._messages: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscriber:
        await self._client.__aenter__()
        await self._client.subscribe(self._filter, qos=1)
        self._task = asyncio.create_task(self._collect(), name="test-subscriber")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.wait([self._task])
        await self._client.__aexit__(exc_type, exc, tb)

    async def _collect(self) -> None:
        async for message in self._client.messages:
            payload = message.payload
            assert isinstance(payload, bytes | bytearray)
            await self._messages.put((str(message.topic), json.loads(payload)))

    async def next(self, timeout_s: float = 10.0) -> tuple[str, Any]:
        async with asyncio.timeout(timeout_s):
            return await self._messages.get()

    async def nothing_more(self, wait_s: float = 0.3) -> bool:
        """True if no message arrives within ``wait_s`` (the broker is local: a duplicate would be fast)."""
        try:
            async with asyncio.timeout(wait_s):
                await self._messages.get()
        except TimeoutError:
            return True
        return False
