"""A cheap MQTT QoS 1 load generator for the benchmarks: many devices' telemetry over a few connections.

A simulated device is a topic and its payloads; a connection carries the messages of many devices,
as a field gateway or a cellular concentrator does. Packets are encoded before the clock starts,
sent at a fixed rate with up to ``window`` unacknowledged at once, and each counts as published
only when the broker's PUBACK for it came back — the same guarantee a device has. Plain asyncio
streams speaking MQTT 3.1.1, so the load costs the machine little of the CPU it shares with the
broker, the database and the gateway.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, *, keepalive_s: int = 60) -> bytes:
    """CONNECT, MQTT 3.1.1, clean session."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", keepalive_s) + struct.pack("!H", len(cid)) + cid
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """PUBLISH at QoS 1."""
    name = topic.encode()
    body = struct.pack("!H", len(name)) + name + struct.pack("!H", packet_id) + payload
    return b"\x32" + _remaining_length(len(body)) + body


@dataclass
class PublishResult:
    acknowledged: int
    seconds: float


async def publish(host: str, port: int, client_id: str, messages: Sequence[tuple[str, bytes]], *,
                  rate_msg_s: float = 0.0, window: int = 100, ca_file: str | None = None) -> PublishResult:
    """Publish ``messages`` (topic, payload) at ``rate_msg_s`` (0: as fast as acknowledged); return when all
    are acknowledged. With ``ca_file`` over TLS, the broker's certificate checked against that CA."""
    tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
    reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    writer.write(connect_packet(client_id))
    await writer.drain()
    connack = await reader.readexactly(4)
    if connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"the broker refused the connection: {connack.hex()}")
    free = asyncio.Semaphore(window)
    total = len(messages)
    acknowledged = 0

    async def read_acks() -> None:
        nonlocal acknowledged
        buffer = b""
        while acknowledged < total:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("the broker closed the connection")
            buffer += data
            whole = len(buffer) // 4  # PUBACK: 0x40 0x02 id id
            acknowledged += whole
            for _ in range(whole):
                free.release()
            buffer = buffer[whole * 4 :]

    packets = [publish_packet(topic, payload, i % 65535 + 1) for i, (topic, payload) in enumerate(messages)]
    acks = asyncio.create_task(read_acks(), name=f"acks {client_id}")
    started = time.perf_counter()
    for i, packet in enumerate(packets):
        await free.acquire()
        writer.write(packet)
        if i % 64 == 63:
            await writer.drain()
            if rate_msg_s > 0:
                ahead_s = started + (i + 1) / rate_msg_s - time.perf_counter()
                if ahead_s > 0:
                    await asyncio.sleep(ahead_s)  # the load's pace
    await writer.drain()
    await acks
    elapsed = time.perf_counter() - started
    writer.write(b"\xe0\x00")  # DISCONNECT
    await writer.drain()
    writer.close()
    return PublishResult(acknowledged, elapsed)
