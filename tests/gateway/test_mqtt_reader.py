"""The intake's socket reader, against a real Mosquitto: bursts read in a few turns, no overflow when behind."""

from __future__ import annotations

import asyncio
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks.publisher import publish
from benchmarks.servers import MosquittoServer
from benchmarks.tls import TlsMaterial
from gateway.intake.mqtt_publish import Publish, decode
from gateway.intake.mqtt_reader import ReadAheadSocket, SocketReader

pytestmark = pytest.mark.asyncio


def _client(server: MosquittoServer, name: str, queue_limit: int) -> aiomqtt.Client:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 600
    client = aiomqtt.Client("127.0.0.1", server.port, identifier=name, protocol=aiomqtt.ProtocolVersion.V5,
                            clean_start=False, properties=properties, max_queued_incoming_messages=queue_limit)
    client._client.manual_ack_set(True)
    return client


def _messages(count: int) -> list[tuple[str, bytes]]:
    return [(f"streetwatch/devices/D{i % 50}/telemetry", b'{"n": %d}' % i) for i in range(count)]


async def _receive(client: aiomqtt.Client, reader: SocketReader | None, count: int, stall_s: float,
                   port: int) -> tuple[list[int], int]:
    """Take messages in batches, stalling after the first as a busy intake does; (numbers received, largest
    backlog seen)."""
    await client.subscribe("streetwatch/devices/+/telemetry", qos=1)
    publisher = asyncio.create_task(publish("127.0.0.1", port, "flood", _messages(count)))
    queue: asyncio.Queue[Any] = client._queue
    received: list[int] = []
    largest = 0
    async with asyncio.timeout(60):
        while len(received) < count:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            largest = max(largest, len(batch))
            if reader is not None:
                reader.resume()
            if len(received) == 0:
                await asyncio.sleep(stall_s)  # the intake waits (a full subscriber queue, a slow disk)
            for message in batch:
                received.append(int(message.payload.split(b":")[1].rstrip(b"}")))
                client._client.ack(message.mid, message.qos)
    await publisher
    return received, largest


async def test_a_stalled_intake_pauses_reading_and_loses_nothing(mosquitto_server: MosquittoServer) -> None:
    count, high_water = 4_000, 300
    client = _client(mosquitto_server, "reader-stall", queue_limit=2 * high_water)
    reader = SocketReader(client, backlog=client._queue.qsize, high_water=high_water)
    reader.install()
    async with client:
        received, largest = await _receive(client, reader, count, stall_s=1.5, port=mosquitto_server.port)
    assert sorted(received) == list(range(count))  # every message, none dropped by a full queue
    assert reader.pauses >= 1
    assert largest <= high_water + 1  # it stopped reading at the mark; the broker kept the rest


async def test_a_burst_is_read_in_few_turns(mosquitto_server: MosquittoServer) -> None:
    count = 3_000
    client = _client(mosquitto_server, "reader-burst", queue_limit=10_000)
    reader = SocketReader(client, backlog=client._queue.qsize, high_water=5_000)
    reader.install()
    async with client:
        received, largest = await _receive(client, reader, count, stall_s=0.5, port=mosquitto_server.port)
    assert sorted(received) == list(range(count))
    assert largest > 100  # whole buffers per turn, not a packet per turn


class _Chunks:
    """A socket whose ``recv`` gives the chunks given, one a call."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def recv(self, _size: int) -> bytes:
        return self.chunks.pop(0)


def _publish(topic: bytes, payload: bytes, mid: int) -> bytes:
    body = len(topic).to_bytes(2) + topic + mid.to_bytes(2) + b"\x00" + payload
    length, encoded = len(body), b""
    while True:
        byte, length = length & 0x7F, length >> 7
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            return b"\x32" + encoded + body


@pytest.mark.parametrize("payload_size", [10, 200, 20_000])  # remaining length in 1, 2 and 3 bytes
async def test_whole_publish_packets_are_found_in_the_buffer_and_a_partial_one_is_left(payload_size: int) -> None:
    first, second = _publish(b"a/b", b"x" * payload_size, 7), _publish(b"c", b"{}", 8)
    cut = len(second) // 2
    sock = ReadAheadSocket(_Chunks(first + second[:cut], second[cut:]), asyncio.get_running_loop())  # type: ignore[arg-type]
    assert sock.whole_publish() is None  # nothing read yet
    assert sock.recv(0) == b""  # the first read from the kernel (paho's, in the reader)
    found = sock.whole_publish()
    assert found is not None
    header, packet, end = found
    assert (header, end) == (0x32, len(first))
    assert decode(header, packet, v5=True) == Publish("a/b", b"x" * payload_size, 1, 7, False)
    sock.consumed(end)
    assert sock.whole_publish() is None  # half a packet: paho reads it (and the rest)
    assert sock.recv(cut) == second[:cut]
    assert sock.pending() == 0


async def test_a_packet_that_is_no_publish_is_left_to_paho() -> None:
    pingresp, connack = b"\xd0\x00", b"\x20\x03\x00\x00\x00"
    sock = ReadAheadSocket(_Chunks(pingresp + connack + _publish(b"t", b"1", 1)), asyncio.get_running_loop())  # type: ignore[arg-type]
    sock.recv(0)
    assert sock.whole_publish() is None
    assert sock.recv(2) == pingresp
    assert sock.whole_publish() is None
    assert sock.recv(5) == connack
    assert sock.whole_publish() is not None


async def test_a_remaining_length_of_five_bytes_is_left_to_paho() -> None:
    sock = ReadAheadSocket(_Chunks(b"\x32\xff\xff\xff\xff\x01" + bytes(10)), asyncio.get_running_loop())  # type: ignore[arg-type]
    sock.recv(0)
    assert sock.whole_publish() is None


def _tls_pair(tls_material: TlsMaterial) -> tuple[ssl.SSLSocket, ssl.SSLSocket]:
    """(server, client): a TLS connection over a socket pair, with the test CA's certificates."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tls_material.server_cert, tls_material.server_key)
    client_context = ssl.create_default_context(cafile=str(tls_material.ca_file))
    ours, theirs = socket.socketpair()
    with ThreadPoolExecutor(1) as pool:
        served = pool.submit(server_context.wrap_socket, theirs, server_side=True)
        client = client_context.wrap_socket(ours, server_hostname="localhost")
        return served.result(timeout=10), client


async def test_a_tls_connection_is_read_ahead_beyond_one_record(tls_material: TlsMaterial) -> None:
    """An SSLSocket gives one TLS record (16 KiB at most) a recv: the read-ahead gathers every record that
    has arrived into its one read of the turn, as it does with a plain socket's kernel buffer."""
    server, client = _tls_pair(tls_material)
    payload = bytes(range(256)) * 400  # 102,400 bytes: seven records
    with server, client:
        server.sendall(payload)
        client.setblocking(False)
        await asyncio.sleep(0.2)  # all of it in the kernel on this side
        ahead = ReadAheadSocket(client, asyncio.get_running_loop())
        first = ahead.recv(5)
        assert ahead.pending() == len(payload) - 5  # every record, not the first 16 KiB
        assert first + ahead.recv(len(payload)) == payload
        with pytest.raises(BlockingIOError):  # nothing more this turn
            ahead.recv(1)


async def test_the_tls_read_ahead_leaves_nothing_decrypted_behind(tls_material: TlsMaterial) -> None:
    """A read that stops at its chunk in the middle of a record takes the rest of that record too: bytes
    left in OpenSSL's buffer make no event on the socket, and the broker would wait for their PUBACKs."""
    server, client = _tls_pair(tls_material)
    with server, client:
        server.sendall(bytes(100_000))
        client.setblocking(False)
        await asyncio.sleep(0.2)
        ahead = ReadAheadSocket(client, asyncio.get_running_loop(), chunk=20_000)  # a record and a bit
        ahead.recv(1)
        assert client.pending() == 0  # the second record was taken whole
        assert ahead.pending() == 2 * 16_384 - 1
