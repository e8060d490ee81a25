"""Incoming PUBLISH packets for the intake, decoded in its hot path; paho decodes anything unusual.

For every MQTT v5 PUBLISH, paho builds a ``Properties`` object (two 27-entry tables, then a scan
of all 27 names to clear it), an ``MQTTMessage`` with a ``threading.Condition``, matches the topic
against its callback filters and formats a debug line: at thousands of messages a second that was
the largest single cost of the gateway (docs/benchmarks.md). Devices send telemetry without
properties, so the intake handles those packets itself — the fixed header's flags, the topic, the
packet identifier, an empty property list, the payload (MQTT 5.0 §3.3) — and gives paho back
everything else: QoS 2, a packet with properties (a topic alias, say), a topic that is not UTF-8,
anything malformed. PUBACK stays paho's to send (manual acknowledgement, after the journal).

>>> packet = b"\\x00\\x03a/b" + b"\\x00\\x07" + b"\\x00" + b'{"x":1}'
>>> decode(0x32, packet, v5=True)
Publish(topic='a/b', payload=b'{"x":1}', qos=1, mid=7, retain=False)
>>> decode(0x32, b"\\x00\\x03a/b\\x00\\x07\\x02\\x23\\x00" + b"{}", v5=True) is None   # a property: paho's
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import aiomqtt
from paho.mqtt.client import MQTTMessage
from paho.mqtt.enums import MQTTErrorCode

from streetwatch.mqtt import internals

_new_tuple = tuple.__new__


class Publish(NamedTuple):
    """A received message, as much as the intake needs of it (a named tuple: made for every message)."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool

    @classmethod
    def from_paho(cls, message: MQTTMessage) -> Publish:
        return cls(message.topic, bytes(message.payload), message.qos, message.mid, message.retain)


def decode(header: int, packet: bytes | bytearray, *, v5: bool) -> Publish | None:
    """The PUBLISH after its fixed header's first byte (``header``) and length; None: leave it to paho."""
    qos = (header >> 1) & 0x03
    if qos > 1 or len(packet) < 2:
        return None
    end = 2 + ((packet[0] << 8) | packet[1])
    if end == 2:
        return None  # no topic name: a topic alias (v5) or an error
    try:
        topic = packet[2:end].decode()
    except UnicodeDecodeError:
        return None
    mid = 0
    if qos:
        mid = int.from_bytes(packet[end:end + 2])
        end += 2
    if v5:
        if end >= len(packet) or packet[end] != 0:
            return None  # properties follow (or the packet is cut short)
        end += 1
    if end > len(packet):
        return None
    return _new_tuple(Publish, (topic, bytes(packet[end:]), qos, mid, bool(header & 0x01)))  # past Python's __new__


def install(client: aiomqtt.Client, deliver: Callable[[Publish], None]) -> Callable[[int, bytes], bool]:
    """Have ``client`` hand its PUBLISH packets to ``deliver``, decoded as above or by paho (before connecting).

    ``client`` must acknowledge by hand (paho's ``manual_ack``): a QoS 1 message is acknowledged only
    when the intake calls ``ack`` for it. Returns ``take(header, packet)``: a whole PUBLISH packet that
    paho has not read (:class:`~gateway.intake.mqtt_reader.SocketReader` finds them in its buffer)
    decoded and delivered, True; False when it is one to leave to paho.
    """
    paho = internals.paho_of(client)
    if not internals.manual_ack_enabled(paho):
        raise ValueError("the intake acknowledges QoS 1 messages itself: call internals.enable_manual_ack first")
    paho_handle_publish = internals.publish_handler(paho)
    v5 = internals.speaks_v5(paho)

    def on_message(_client: Any, _userdata: Any, message: MQTTMessage) -> None:
        deliver(Publish.from_paho(message))

    def handle_publish() -> MQTTErrorCode:
        header, packet = internals.incoming_packet(paho)
        message = decode(header, packet, v5=v5)
        if message is None:
            return paho_handle_publish()
        deliver(message)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def take(header: int, packet: bytes) -> bool:
        message = decode(header, packet, v5=v5)
        if message is None:
            return False
        deliver(message)
        return True

    paho.on_message = on_message
    internals.set_publish_handler(paho, handle_publish)
    return take
