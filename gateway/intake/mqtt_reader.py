"""How the intake's MQTT client reads its socket: ahead, a bounded amount per turn, paused when behind.

paho reads a packet in three or four small ``recv`` calls (the command byte, the remaining-length
bytes one by one, the rest), and aiomqtt's reader handles one packet each time the event loop
finds the socket readable: at thousands of messages a second the gateway spent more on event-loop
turns and system calls than on the messages. Here:

- :class:`ReadAheadSocket` stands in for the TCP socket: one ``recv`` takes what the kernel holds
  (up to ``chunk`` bytes) and paho's small reads are served from memory;
- :class:`SocketReader` replaces aiomqtt's reader callback: it hands paho every whole packet of
  that buffer in one turn, so a burst becomes one batch for the intake. It reads from the kernel
  at most once a turn — while devices keep publishing, a reader that refilled as it went would
  never give the loop back, and nothing read would be handled or acknowledged;
- whole PUBLISH packets in that buffer go straight to the intake's decoder (``publish``), past
  paho's reader, which takes a packet in several calls and a dict of state (issue #21); anything
  else, a packet the buffer holds only in part or one the decoder leaves to paho, paho reads;
- and it stops reading while ``backlog()`` (messages received, not yet handled) is at its high
  water mark, until :meth:`SocketReader.resume` finds room again. The broker's in-flight limit
  should keep the backlog small, but a QoS 0 flood has none, and in a benchmark run aiomqtt's
  queue overflowed all the same: it drops what does not fit without a word, and a QoS 1 message
  dropped unacknowledged is not sent again before the next connection. Unread bytes instead stay
  in the kernel and then at the broker (TCP flow control), where they are safe.

A TLS connection is read ahead the same way: an ``ssl.SSLSocket`` gives one TLS record (at most 16 KiB)
a ``recv``, so the read-ahead gathers the records that have arrived, up to a chunk, in its one read
of the turn, and takes the rest of the record it stopped in (decrypted bytes left in OpenSSL's buffer
make no event on the socket). Without it paho's small reads each went through OpenSSL, and a burst reached the intake
a record at a time: batches ten times smaller, each journaled and acknowledged on its own.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt

from streetwatch.mqtt import internals

DEFAULT_CHUNK = 256 * 1024
_PUBLISH = 3  # the packet type in a fixed header's high nibble


class ReadAheadSocket:
    """A non-blocking socket whose ``recv`` reads ahead, once per event-loop turn; the rest goes to the socket."""

    __slots__ = ("_buffer", "_chunk", "_loop", "_pos", "_read_this_turn", "_sock")

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop, chunk: int = DEFAULT_CHUNK) -> None:
        self._sock = sock
        self._chunk = chunk
        self._loop = loop
        self._buffer = b""
        self._pos = 0
        self._read_this_turn = False

    def recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes; ``BlockingIOError`` (as the socket) when there are none to give this turn."""
        pos = self._pos
        buffer = self._buffer
        if pos >= len(buffer):
            if self._read_this_turn:
                raise BlockingIOError("read once this turn; the rest on the next")
            buffer = self._fill()
            if not buffer:
                return buffer  # the broker closed the connection
            self._buffer = buffer
            pos = 0
            self._read_this_turn = True
            self._loop.call_soon(self._next_turn)
        end = pos + bufsize
        self._pos = end
        return buffer[pos:end]

    def whole_publish(self) -> tuple[int, bytes, int] | None:
        """The PUBLISH packet that starts the unread bytes, if all of it is here: (its fixed header's first
        byte, the rest after the remaining length, where it ends); ``None`` for anything else. Nothing is
        consumed until :meth:`consumed`."""
        buffer, pos = self._buffer, self._pos
        if pos >= len(buffer) or buffer[pos] >> 4 != _PUBLISH:
            return None
        length = 0
        for index in range(4):  # the remaining length: 1-4 bytes of 7 bits, least significant first
            if pos + 1 + index >= len(buffer):
                return None
            byte = buffer[pos + 1 + index]
            length |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                start = pos + 2 + index
                end = start + length
                return (buffer[pos], buffer[start:end], end) if end <= len(buffer) else None
        return None  # malformed: paho says so

    def consumed(self, end: int) -> None:
        """The bytes up to ``end`` (from :meth:`whole_publish`) are handled."""
        self._pos = end

    def _fill(self) -> bytes:
        data = self._sock.recv(self._chunk)
        if not data or not isinstance(self._sock, ssl.SSLSocket):
            return data
        parts, size = [data], len(data)
        while True:
            # Up to a chunk; past it only what OpenSSL has decrypted already: bytes left in its buffer would
            # make no event on the socket, and the broker would wait for the acknowledgements they hold.
            want = self._chunk - size if size < self._chunk else self._sock.pending()
            if want <= 0:
                break
            try:
                more = self._sock.recv(want)
            except OSError:  # nothing more decrypted now (SSLWantRead…), or a failure the next recv reports
                break
            if not more:
                break
            parts.append(more)
            size += len(more)
        return b"".join(parts)

    def _next_turn(self) -> None:
        self._read_this_turn = False

    def pending(self) -> int:
        """Bytes read from the kernel and not handed out yet."""
        return max(0, len(self._buffer) - self._pos)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class SocketReader:
    """Reads ``client``'s connections in its place (:meth:`install` before connecting, in the event loop)."""

    def __init__(self, client: aiomqtt.Client, backlog: Callable[[], int], high_water: int,
                 chunk: int = DEFAULT_CHUNK, publish: Callable[[int, bytes], bool] | None = None) -> None:
        self.client = client
        self.publish = publish
        self.backlog = backlog
        self.high_water = high_water
        self.chunk = chunk
        self.pauses = 0
        self.paused = False
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = None

    def install(self) -> None:
        paho = internals.paho_of(self.client)
        aiomqtt_close = paho.on_socket_close

        def on_socket_close(paho_client: Any, userdata: Any, sock: Any) -> None:
            self._fd = None  # the number may be reused by the next socket
            self.paused = False
            if aiomqtt_close is not None:
                aiomqtt_close(paho_client, userdata, sock)

        paho.on_socket_open = self._on_socket_open
        paho.on_socket_close = on_socket_close

    def _on_socket_open(self, paho_client: Any, userdata: Any, sock: Any) -> None:
        # paho calls this from the thread aiomqtt connects in: only thread-safe calls on the loop.
        if isinstance(sock, socket.socket):  # an ssl.SSLSocket too
            sock = ReadAheadSocket(sock, self._loop, self.chunk)
            internals.set_socket(paho_client, sock)
        self._loop.call_soon_threadsafe(self._start, sock.fileno())

    def _start(self, fd: int) -> None:
        self._fd = fd
        self.paused = False
        self._loop.add_reader(fd, self._read)
        # aiomqtt's keepalive task, which its own socket callback would have started.
        internals.start_keepalive(self.client, self._loop)

    def _read(self) -> None:
        paho = internals.paho_of(self.client)
        publish = self.publish
        taken = 0  # PUBLISH packets taken from the buffer here, past paho
        try:
            while True:
                sock = internals.socket_of(paho)
                found = (sock.whole_publish() if publish is not None and isinstance(sock, ReadAheadSocket)
                         and internals.between_packets(paho) else None)
                if found is not None and publish is not None and publish(found[0], found[1]):
                    sock.consumed(found[2])
                    taken += 1
                else:
                    paho.loop_read()  # one packet
                if self.backlog() >= self.high_water:
                    self._pause()
                    return
                sock = internals.socket_of(paho)
                if sock is None or not hasattr(sock, "pending") or sock.pending() <= 0:
                    return
        except Exception as exc:  # a broken connection: aiomqtt's session ends with it
            internals.fail_session(self.client, exc)
        finally:
            if taken:
                internals.heard_from_broker(paho)  # paho's keepalive counts what it did not read itself

    def _pause(self) -> None:
        if self._fd is not None and not self.paused:
            self._loop.remove_reader(self._fd)
            self.paused = True
            self.pauses += 1

    def resume(self) -> None:
        """Read again if paused and the backlog is down to half the high water mark."""
        if self.paused and self._fd is not None and self.backlog() <= self.high_water // 2:
            self.paused = False
            self._loop.add_reader(self._fd, self._read)
            self._loop.call_soon(self._read)  # whole packets may wait in the read-ahead buffer, not in the kernel
