"""Many clients on ``/api/v1/events``: how long an alert takes to reach every one of them.

Each client is a plain HTTP/1.1 connection read as it arrives (no SSE library: 500 of them must cost the
measuring process little). An alert is raised as the rules engine raises it (``AlertStore.apply``), and each
client notes when the alert's message appears in its stream. The floor is the database's part of it: the
alert's write and the bare query that finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from benchmarks.api_fleet import Fleet
from benchmarks.system import cpu_seconds
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database

CONNECT_AT_ONCE = 50
WAIT_S = 10.0
BARE_READ = ("SELECT h.id, h.alert_id, h.at, h.event, h.severity, h.state, a.device_id, a.message FROM alert_history h "
             "JOIN alerts a ON a.id = h.alert_id WHERE h.id > ? ORDER BY h.id LIMIT 500")


class Round:
    """One alert awaited by every client: when each saw it, and an event once all have."""

    def __init__(self, marker: str, clients: int) -> None:
        self.marker = marker
        self.arrivals: list[float] = []
        self._clients = clients
        self.all_seen = asyncio.Event()

    def seen(self, at: float) -> None:
        self.arrivals.append(at)
        if len(self.arrivals) == self._clients:
            self.all_seen.set()


class Client:
    """One open stream, watching for the current round's marker."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.round: Round | None = None
        self._tail = ""

    async def follow(self) -> None:
        while chunk := await self.reader.read(65_536):
            now = time.perf_counter()
            text = self._tail + chunk.decode(errors="replace")
            if self.round is not None and self.round.marker in text:
                self.round.seen(now)
                self.round = None
            self._tail = text[-200:]


async def _connect(host: str, port: int, token: str) -> Client:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                 f"Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"/api/v1/events answered {head.splitlines()[0]!r}")
    return Client(reader, writer)


async def sse_delivery(base_url: str, database_url: str, fleet: Fleet, *, clients: int, alerts: int,
                       server_pid: int) -> tuple[list[float], list[float], str]:
    """(seconds from raising each alert to each client seeing it, the floor's seconds, a line of detail)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    streams: list[Client] = []
    for start in range(0, clients, CONNECT_AT_ONCE):
        streams += await asyncio.gather(*(_connect(host, port, fleet.token)
                                          for _ in range(min(CONNECT_AT_ONCE, clients - start))))
    readers = [asyncio.create_task(s.follow(), name="sse-client") for s in streams]
    delivery: list[float] = []
    floor: list[float] = []
    missing = 0
    cpu_before = cpu_seconds(server_pid)
    try:
        async with open_database(DatabaseUrl.parse(database_url)) as db:
            store = AlertStore(db)
            await asyncio.sleep(1.0)  # every stream past its first poll
            for n in range(alerts):
                marker = f"bench alert {n} {time.time_ns()}"
                current = Round(marker, len(streams))
                for stream in streams:
                    stream.round = current
                last = int(await db.fetch_value("SELECT COALESCE(MAX(id), 0) AS last FROM alert_history"))
                raised = time.perf_counter()
                await store.apply(AlertTransition(n + 1, AlertEvent.raised, f"bench-{n}", fleet.gauge, "red", None,
                                                  datetime.now(UTC), device_kind="culvert_gauge",
                                                  metric="water_level_mm", value=900.0, message=marker))
                rows = await db.fetch_all(BARE_READ, (last,))
                floor.append(time.perf_counter() - raised)
                assert any(row["message"] == marker for row in rows)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(current.all_seen.wait(), WAIT_S)
                delivery += [at - raised for at in current.arrivals]
                missing += len(streams) - len(current.arrivals)
                delivery += [WAIT_S] * (len(streams) - len(current.arrivals))
                await asyncio.sleep(random.uniform(0.3, 1.3))  # not in step with the server's polls
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for stream in streams:
            stream.writer.close()
    cpu = cpu_seconds(server_pid) - cpu_before
    return delivery, floor, (f"{len(delivery) - missing}/{len(delivery)} deliveries; streetwatch serve used "
                             f"{cpu:.1f} s CPU meanwhile")
