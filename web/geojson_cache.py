"""Whole-fleet GeoJSON, written once per registry revision and filter, and answered by ETag.

Writing 100,000 devices as GeoJSON (and compressing the 20 MB of it) takes the database and this process
a second or more; maps ask for it on every page load. The registry bumps its revision in the same
transaction as every change, so ``(revision, the filter's SQL and parameters)`` names one answer exactly:
it is built once, kept with its gzip form, and sent again while the revision stands; a client that sends
the ETag back gets ``304``.
Caller-specific filters (the caller's areas are part of the filter) make separate entries; the newest
``MAX_ENTRIES`` are kept.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from fastapi import Request, Response

MAX_ENTRIES = 16
GZIP_LEVEL = 6  # of 1–9: most of 9's size at a fraction of its time for 20 MB of JSON


@dataclass(frozen=True, slots=True)
class CachedBody:
    etag: str
    plain: bytes
    gzipped: bytes


class GeoJsonCache:
    """The newest answers by key; one is built at a time, so a burst of cold requests builds it once."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, CachedBody] = OrderedDict()
        self._max_entries = max_entries
        self._building = asyncio.Lock()

    async def get(self, key: Hashable, build: Callable[[], Awaitable[bytes]]) -> CachedBody:
        found = self._entries.get(key)
        if found is None:
            async with self._building:
                found = self._entries.get(key)
                if found is None:
                    plain = await build()
                    gzipped = await asyncio.to_thread(gzip.compress, plain, GZIP_LEVEL, mtime=0)
                    found = CachedBody(f'"{hashlib.sha256(repr(key).encode()).hexdigest()[:32]}"', plain, gzipped)
                    self._entries[key] = found
                    while len(self._entries) > self._max_entries:
                        self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        return found


def cached_response(request: Request, body: CachedBody, media_type: str = "application/json") -> Response:
    """304 when the client has this version, else the body (gzipped when the client takes gzip)."""
    headers = {"ETag": body.etag, "Vary": "Accept-Encoding", "Cache-Control": "private, no-cache"}
    if body.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body.gzipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(body.plain, media_type=media_type, headers=headers)
