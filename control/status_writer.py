"""Delivery status changes written in batches: a bounded queue and one worker.

Dimming 10,000 lamps makes 20,000 status changes; one transaction per change would make the
database the bottleneck. The worker takes what has queued up (up to ``max_batch``) and writes it in
one transaction. While the database is unreachable it keeps the batch and retries with backoff;
the bounded queue then holds the dispatcher back. Any other database error stops the worker and is
raised to the next :meth:`put`.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Self

from control.store import CommandStore, StatusUpdate
from streetwatch.backoff import Backoff
from streetwatch.database import DatabaseUnavailable
from streetwatch.figures import show

log = logging.getLogger(__name__)


class StatusWriter:
    def __init__(self, store: CommandStore, *, max_batch: int = 2_000, queue_size: int = 50_000,
                 close_timeout_s: float = 30.0) -> None:
        self.store = store
        self.max_batch = max_batch
        self.close_timeout_s = close_timeout_s
        self._queue: asyncio.Queue[StatusUpdate | None] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.written = 0

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._work(), name="control-status-writer")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            await self._queue.put(None)  # flush what is queued, then stop
            try:
                await asyncio.wait_for(asyncio.shield(task), self.close_timeout_s)
            except TimeoutError:
                log.error("gave up writing %d delivery status change(s) after %s s", self._queue.qsize(),
                          show(self.close_timeout_s))
                task.cancel()
        if task.done() and not task.cancelled() and task.exception() is not None and exc is None:
            raise task.exception()  # type: ignore[misc]

    async def put(self, update: StatusUpdate) -> None:
        if self._failure is not None:
            raise self._failure
        await self._queue.put(update)

    async def flush(self) -> None:
        """Return when everything put so far is written."""
        if self._failure is not None:
            raise self._failure
        await self._queue.join()

    async def _work(self) -> None:
        backoff = Backoff(initial_s=0.2, max_s=10.0)
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            batch: list[StatusUpdate] = []
            item = await self._queue.get()
            taken = 1
            if item is None:
                stopping = True
            else:
                batch.append(item)
            while len(batch) < self.max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                taken += 1
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                await self._write(batch, backoff, loop)
            except BaseException as exc:
                self._failure = exc
                raise
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    async def _write(self, batch: list[StatusUpdate], backoff: Backoff, loop: asyncio.AbstractEventLoop) -> None:
        outage = False
        while batch:
            try:
                await self.store.record(batch)
            except DatabaseUnavailable as exc:
                if not outage:
                    log.error("cannot record delivery statuses (%s); keeping %d and retrying", exc, len(batch))
                    outage = True
                await asyncio.sleep(backoff.failed(loop.time()) - loop.time())
                continue
            if outage:
                log.warning("recorded %d delivery status change(s) after the database came back", len(batch))
            backoff.succeeded()
            self.written += len(batch)
            return
