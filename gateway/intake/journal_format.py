"""The journal's records on disk: ``u32 body length | u32 crc32(seq + body) | u64 seq | body``, with body
``f64 received_at | u8 source | u16 device id length | device id | payload`` (see :mod:`gateway.intake.journal`)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

_HEADER = struct.Struct("<IIQ")
_BODY_HEAD = struct.Struct("<dBH")
_SEGMENT_SUFFIX = ".journal"
_MAX_BODY = 16 * 1024 * 1024
_MIN_SEGMENT = 16 * 1024


class Source(IntEnum):
    """Where a record came from; decides how its payload is parsed."""

    MQTT_TELEMETRY = 1
    MODBUS_POLL = 2


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    received_at: float  # seconds since the epoch, UTC
    source: Source
    device_id: str
    payload: bytes


def _encode(seq: int, received_at: float, source: Source, device_id: str, payload: bytes) -> bytes:
    device = device_id.encode()
    body = _BODY_HEAD.pack(received_at, source, len(device)) + device + payload
    crc = zlib.crc32(body, zlib.crc32(seq.to_bytes(8, "little")))
    return _HEADER.pack(len(body), crc, seq) + body


def _read_records(path: Path, start: int = 0, chunk_bytes: int = 1 << 20) -> Iterator[tuple[int, Record]]:
    """Yield (file offset after the record, record) for every intact record of one segment from byte ``start``.

    Reads the file in chunks, so a reader that stops early reads little of a large segment.
    """
    with path.open("rb") as fh:
        fh.seek(start)
        buf, base, pos = b"", start, 0  # buf[0] is at file offset base
        while True:
            need = _HEADER.size
            if len(buf) - pos >= _HEADER.size:
                length, crc, seq = _HEADER.unpack_from(buf, pos)
                if length > _MAX_BODY:
                    return
                need = _HEADER.size + length
                if len(buf) - pos >= need:
                    body = buf[pos + _HEADER.size : pos + need]
                    if zlib.crc32(body, zlib.crc32(seq.to_bytes(8, "little"))) != crc:
                        return
                    received_at, source, device_len = _BODY_HEAD.unpack_from(body)
                    head = _BODY_HEAD.size
                    device_id = body[head : head + device_len].decode()
                    pos += need
                    yield base + pos, Record(seq, received_at, Source(source), device_id, body[head + device_len :])
                    continue
            chunk = fh.read(max(chunk_bytes, need))
            if not chunk:
                return
            buf, base, pos = buf[pos:] + chunk, base + pos, 0


