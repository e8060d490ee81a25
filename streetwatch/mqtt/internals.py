"""Every reach into aiomqtt's and paho's private internals, in one place, checked at start.

The intake replaces three things the libraries do not let a caller change (docs/gateway.md):
it reads the socket itself (``gateway/intake/mqtt_reader.py``), decodes plain PUBLISH packets itself
(``gateway/intake/mqtt_publish.py``) and acknowledges QoS 1 messages only once they are journaled
(``gateway/intake/mqtt_ingest.py``). aiomqtt 2.5 offers none of that publicly, so those modules call the
functions here, and nothing else in the project touches a private name of either library. Each
access is marked ``# noqa: SLF001`` with the reason.

The names exist in the versions pinned in pyproject.toml (aiomqtt 2.5, paho-mqtt 2.2).
:func:`check` verifies them when a transport is made, so that another version stops the process
with one line instead of failing later, mid-session, inside a socket callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

import aiomqtt
import paho.mqtt.client as paho_mqtt
from paho.mqtt.enums import MessageType, MQTTErrorCode, MQTTProtocolVersion

from streetwatch.mqtt.errors import MqttInternalsError

PublishHandler = Callable[[], MQTTErrorCode]


def paho_of(client: aiomqtt.Client) -> paho_mqtt.Client:
    """The paho client inside ``client``: manual acknowledgement, socket callbacks and packets are paho's."""
    return client._client  # noqa: SLF001 - aiomqtt exposes no handle on its paho client


def disconnected(client: aiomqtt.Client) -> asyncio.Future[None]:
    """Done when ``client``'s connection ended; its exception says why."""
    return client._disconnected  # noqa: SLF001 - aiomqtt has no public "connection ended" signal


def enable_manual_ack(client: aiomqtt.Client) -> None:
    """PUBACK only when :func:`acknowledge` is called (aiomqtt 2.5 acknowledges on receipt)."""
    paho_of(client).manual_ack_set(True)


def manual_ack_enabled(paho: paho_mqtt.Client) -> bool:
    return bool(paho._manual_ack)  # noqa: SLF001 - paho has a setter and no getter


def acknowledge(client: aiomqtt.Client, mid: int, qos: int) -> None:
    """Send the PUBACK of message ``mid`` (with manual acknowledgement on)."""
    paho_of(client).ack(mid, qos)


_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, the message id (success: no reason code, MQTT 5 too)


def acknowledge_all(client: aiomqtt.Client, acks: Sequence[tuple[int, int]]) -> None:
    """Acknowledge every ``(mid, qos)`` of ``acks``: the PUBACKs as one write, not one packet (and one socket
    send) each as :func:`acknowledge` makes them; a QoS 2 message's PUBCOMP goes as paho sends it."""
    paho = paho_of(client)
    pubacks = b"".join([_PUBACK.pack(MessageType.PUBACK, 2, mid) for mid, qos in acks if qos == 1])
    if pubacks:
        # paho writes a queued packet's bytes as they are; after the write it looks only at PUBLISH and DISCONNECT.
        paho._packet_queue(MessageType.PUBACK, pubacks, 0, 0)  # noqa: SLF001 - paho queues one PUBACK per call to ack()
    for mid, qos in acks:
        if qos == 2:
            paho.ack(mid, qos)


def speaks_v5(paho: paho_mqtt.Client) -> bool:
    return bool(paho._protocol == MQTTProtocolVersion.MQTTv5)  # noqa: SLF001 - no public getter


def incoming_packet(paho: paho_mqtt.Client) -> tuple[int, bytes | bytearray]:
    """The packet paho is handling: its fixed header's first byte and the rest after the length."""
    packet = paho._in_packet  # noqa: SLF001 - the PUBLISH handler is the only place with the raw packet
    return packet["command"], packet["packet"]


def publish_handler(paho: paho_mqtt.Client) -> PublishHandler:
    """paho's own PUBLISH handler (for what the intake leaves to it)."""
    handler: PublishHandler = paho._handle_publish  # noqa: SLF001 - replaced by set_publish_handler
    return handler


def set_publish_handler(paho: paho_mqtt.Client, handler: PublishHandler) -> None:
    """Have ``paho`` call ``handler`` for each PUBLISH it reads (this client only)."""
    paho._handle_publish = handler  # type: ignore[method-assign]  # noqa: SLF001 - paho has no hook here


def socket_of(paho: paho_mqtt.Client) -> Any:
    """The socket paho reads from (None between connections)."""
    return paho._sock  # noqa: SLF001 - paho.socket() would do, but the reader swaps it (below)


def between_packets(paho: paho_mqtt.Client) -> bool:
    """paho is not in the middle of reading a packet: the next bytes on its socket start one."""
    return paho._in_packet["command"] == 0  # noqa: SLF001 - paho resets it to 0 after each packet


def heard_from_broker(paho: paho_mqtt.Client) -> None:
    """Bytes came from the broker that paho did not read itself: its keepalive must not think the link quiet."""
    with paho._msgtime_mutex:  # noqa: SLF001 - paho's keepalive reads the time under this lock
        paho._last_bytes_received = paho_mqtt.time_func()  # noqa: SLF001 - paho's own clock


def set_socket(paho: paho_mqtt.Client, sock: Any) -> None:
    """Have paho read from ``sock`` (a read-ahead wrapper of the socket it opened)."""
    paho._sock = sock  # noqa: SLF001 - paho reads self._sock; no public way to interpose


def start_keepalive(client: aiomqtt.Client, loop: asyncio.AbstractEventLoop) -> None:
    """Start aiomqtt's keepalive task, as its own socket-open callback would have (the reader replaces it)."""
    client._misc_task = loop.create_task(client._misc_loop())  # noqa: SLF001 - aiomqtt's callback is replaced


def fail_session(client: aiomqtt.Client, error: BaseException) -> None:
    """End ``client``'s session with ``error`` (a broken socket seen by the intake's reader)."""
    ended = disconnected(client)
    if not ended.done():
        ended.set_exception(error)


def sever(client: aiomqtt.Client) -> None:
    """Drop the TCP connection without an MQTT DISCONNECT, as a device losing power does (the broker then
    publishes its last will); aiomqtt has no public call for an unclean end."""
    sock = paho_of(client).socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# -- the start-up check ------------------------------------------------------------------------------

_AIOMQTT_INSTANCE = ("_client", "_disconnected", "_misc_task")
_AIOMQTT_CLASS = ("_misc_loop",)
_PAHO_INSTANCE = ("_sock", "_in_packet", "_manual_ack", "_protocol", "_handle_publish", "_packet_queue",
                  "_msgtime_mutex", "_last_bytes_received", "manual_ack_set", "ack", "loop_read", "socket",
                  "on_socket_open", "on_socket_close")


def _sample_client() -> aiomqtt.Client:
    """An unconnected client to look at (aiomqtt's ``__init__`` needs a running loop, and does no I/O)."""
    async def make() -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1")

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    return aiomqtt.Client("127.0.0.1")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


_checked = False


def check_once() -> None:
    """:func:`check`, the first time a process makes a transport (the libraries do not change while it runs)."""
    global _checked  # a process-wide fact, learnt once
    if not _checked:
        check()
        _checked = True


def check() -> None:
    """Raise :class:`MqttInternalsError` (one line) if a private name used above is missing."""
    missing = [f"aiomqtt.Client.{name}" for name in _AIOMQTT_CLASS if not callable(getattr(aiomqtt.Client, name, None))]
    client = _sample_client()
    missing += [f"aiomqtt.Client().{name}" for name in _AIOMQTT_INSTANCE if not hasattr(client, name)]
    paho = getattr(client, "_client", None)
    if paho is not None:
        missing += [f"paho Client().{name}" for name in _PAHO_INSTANCE if not hasattr(paho, name)]
        packet = getattr(paho, "_in_packet", None)
        if isinstance(packet, dict) and not {"command", "packet"} <= packet.keys():
            missing.append("paho Client()._in_packet['command'/'packet']")
    if missing:
        raise MqttInternalsError(
            f"MQTT: aiomqtt {_version('aiomqtt')} / paho-mqtt {_version('paho-mqtt')} lack {', '.join(missing)}, "
            "which the gateway's intake relies on; install the versions pinned in pyproject.toml "
            "(aiomqtt 2.5.*, paho-mqtt 2.2.*)")
