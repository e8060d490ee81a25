"""The intake's PUBLISH decoder agrees with paho's, and a real broker's messages arrive by either path."""

from __future__ import annotations

import asyncio
import struct

import aiomqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks.servers import MosquittoServer
from gateway.intake import mqtt_publish
from gateway.intake.mqtt_publish import Publish, decode


def _variable_part(topic: bytes, qos: int, mid: int, properties: bytes | None, payload: bytes) -> bytearray:
    out = bytearray(struct.pack("!H", len(topic)) + topic)
    if qos:
        out += struct.pack("!H", mid)
    if properties is not None:  # v5: the properties' length (one byte here), then them
        out += bytes([len(properties)]) + properties
    return out + payload


@given(topic=st.text(min_size=1, max_size=40), payload=st.binary(max_size=300), qos=st.integers(0, 2),
       mid=st.integers(1, 65535), retain=st.booleans(), dup=st.booleans(), v5=st.booleans(),
       content_type=st.none() | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10))
def test_decode_agrees_with_paho_or_leaves_it_to_paho(topic: str, payload: bytes, qos: int, mid: int, retain: bool,
                                                       dup: bool, v5: bool, content_type: str | None) -> None:
    properties = None
    if v5:
        properties = b"" if content_type is None else b"\x03" + struct.pack("!H", len(content_type.encode())) \
            + content_type.encode()
    header = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    packet = _variable_part(topic.encode(), qos, mid, properties, payload)
    protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    paho = _packet.decode_publish(header, bytes(packet), protocol)
    ours = decode(header, packet, v5=v5)
    if ours is None:  # paho's to decode: QoS 2, or properties present
        assert qos == 2 or content_type is not None
        return
    assert qos < 2 and (not v5 or content_type is None)
    assert (ours.topic, ours.payload, ours.qos, ours.mid, ours.retain) == (
        paho.topic.decode(), paho.payload, paho.qos, paho.mid, paho.retain)
    assert isinstance(ours.payload, bytes)


@pytest.mark.parametrize("packet", [b"", b"\x00", b"\x00\x05ab", b"\x00\x00\x00\x01\x00{}", b"\x00\x01\xff\x00\x01\x00",
                                    b"\x00\x01a\x00"])
def test_what_it_cannot_read_is_left_to_paho(packet: bytes) -> None:
    """Cut short, no topic (a topic alias), a topic that is not UTF-8, no property length: None, never a guess."""
    assert decode(0x32, packet, v5=True) is None


async def test_messages_arrive_by_both_paths_through_a_real_broker(mosquitto_server: MosquittoServer) -> None:
    received: list[Publish] = []
    all_three = asyncio.Event()

    def deliver(message: Publish) -> None:
        received.append(message)
        if len(received) == 3:
            all_three.set()

    client = aiomqtt.Client("127.0.0.1", mosquitto_server.port, identifier="publish-paths",
                            protocol=aiomqtt.ProtocolVersion.V5)
    client._client.manual_ack_set(True)
    mqtt_publish.install(client, deliver)
    async with client, aiomqtt.Client("127.0.0.1", mosquitto_server.port, identifier="publish-paths-pub",
                                      protocol=aiomqtt.ProtocolVersion.V5) as publisher:
        await client.subscribe("sw/test/#", qos=1)
        with_properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        with_properties.ContentType = "application/json"
        await publisher.publish("sw/test/plain", b'{"a":1}', qos=1)
        await publisher.publish("sw/test/props", b'{"b":2}', qos=1, properties=with_properties)
        await publisher.publish("sw/test/qos0", b'{"c":3}', qos=0)
        async with asyncio.timeout(10):
            await all_three.wait()
        for message in received:
            if message.qos:
                client._client.ack(message.mid, message.qos)
    assert sorted((m.topic, m.payload, m.qos) for m in received) == [
        ("sw/test/plain", b'{"a":1}', 1), ("sw/test/props", b'{"b":2}', 1), ("sw/test/qos0", b'{"c":3}', 0)]


async def test_install_refuses_automatic_acknowledgement() -> None:
    client = aiomqtt.Client("127.0.0.1", 1, identifier="auto-ack")
    with pytest.raises(ValueError, match="manual_ack"):
        mqtt_publish.install(client, lambda _: None)
