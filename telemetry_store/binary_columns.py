"""Columns of numbers into PostgreSQL's binary COPY layout, without a Python call per value.

A binary COPY stream is rows of fields, each field its length then its bytes, big-endian. For rows
of fixed width (a reading: time, device key, metric key, value; an array element: length, value)
the stream is a template row repeated, with each column's bytes in its place. :func:`interleave`
builds it so: the template repeated ``count`` times, then for each column its values as one array
packed big-endian by one :func:`struct.pack` (a loop in C), and written into every row with one
strided slice per byte of the field. A value that does not fit its field raises ``struct.error``
(an integer out of range, a value that is no number).

>>> template = struct.pack(">id", 8, 0.0)                       # an array element: length 8, a float8
>>> bytes(interleave(template, 2, [("d", 4, [1.5, -2.0])])) == struct.pack(">idid", 8, 1.5, 8, -2.0)
True
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SIZES = {"h": 2, "i": 4, "q": 8, "d": 8}


def interleave(template: bytes, count: int, columns: Sequence[tuple[str, int, Sequence[float] | Sequence[int]]]
               ) -> bytearray:
    """``count`` rows of ``template`` with each column ``(struct code, byte offset, values)`` written in;
    the codes are ``h``, ``i``, ``q`` and ``d`` (int2, int4, int8, float8)."""
    width = len(template)
    out = bytearray(template * count)
    for typecode, offset, values in columns:
        raw = struct.pack(f">{count}{typecode}", *values)
        size = _SIZES[typecode]
        for byte in range(size):
            out[offset + byte::width] = raw[byte::size]
    return out
