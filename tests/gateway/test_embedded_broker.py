from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiomqtt

from gateway.composition.embedded_broker import embedded_broker


async def test_embedded_broker_carries_qos1_and_retained_messages() -> None:
    async with embedded_broker() as url:
        port = urlsplit(url).port
        assert port is not None
        assert port != 1883
        async with aiomqtt.Client("127.0.0.1", port, identifier="device") as device:
            await device.publish("streetwatch/devices/CG-1/status", b"online", qos=1, retain=True)
        async with aiomqtt.Client("127.0.0.1", port, identifier="gateway") as gateway:
            await gateway.subscribe("streetwatch/devices/+/status", qos=1)

            async def first() -> aiomqtt.Message:
                async for message in gateway.messages:
                    return message
                raise AssertionError("no message")

            message = await asyncio.wait_for(first(), timeout=5)
    assert message.payload == b"online"
    assert str(message.topic) == "streetwatch/devices/CG-1/status"
