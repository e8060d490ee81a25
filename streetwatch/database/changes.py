"""A signal, through PostgreSQL's ``LISTEN``/``NOTIFY``, that a table the operator API streams has changed.

The API's event reader polls the alert history, the device online/offline log, command progress and task
orders. Polling alone makes an event wait for the next poll (0.25 s by default, 125 ms on average). Each
table's owner adds a statement trigger (:func:`notify_on_change_sql`, in its own migration) that sends
``NOTIFY streetwatch_changes, '<table>'`` when a statement changes it; :class:`ChangeSignal` listens on
one connection of its own and wakes the reader at once. The poll stays as the safety net (a notification
is lost while the listening connection is down) and is all there is on SQLite, where one process writes
at a time and no server can tell another process anything.

>>> async with ChangeSignal.listening(url) as signal:            # doctest: +SKIP
...     await signal.wait(timeout_s=0.25)   # True: a change was notified; False: the timeout passed
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from streetwatch.backoff import Backoff
from streetwatch.config import DatabaseUrl

log = logging.getLogger(__name__)
CHANNEL = "streetwatch_changes"


def notify_on_change_sql(table: str) -> str:
    """PostgreSQL DDL: after any statement that inserts or updates rows of ``table``, notify :data:`CHANNEL`.

    A statement trigger, not a row trigger: a command's 10,000 deliveries updated in one statement send one
    notification, and PostgreSQL folds equal notifications of one transaction into one.
    """
    return f"""
CREATE OR REPLACE FUNCTION streetwatch_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER {table}_notify_change AFTER INSERT OR UPDATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION streetwatch_notify_change();
"""


class ChangeSignal:
    """Set by every notification on :data:`CHANNEL`; on SQLite it is never set and waiting is a plain sleep."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.connected = False  # True while the listening connection is up
        self.notifications = 0

    async def wait(self, timeout_s: float) -> bool:
        """Until a change is notified (True) or ``timeout_s`` has passed (False); the signal is then cleared."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._changed.clear()

    def changed(self) -> None:
        self.notifications += 1
        self._changed.set()

    @classmethod
    @asynccontextmanager
    async def listening(cls, url: DatabaseUrl) -> AsyncIterator[ChangeSignal]:
        """A signal fed by a connection of its own to ``url`` (reconnecting with backoff) while the block runs."""
        signal = cls()
        if url.backend != "postgresql":
            yield signal
            return
        task = asyncio.create_task(signal._listen(url.url), name="database-changes")
        try:
            yield signal
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self, conninfo: str) -> None:
        backoff = Backoff(initial_s=0.5, max_s=30.0)
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if backoff.failures:
                        log.info("database changes: listening again")
                    backoff.succeeded()
                    self.connected = True
                    self.changed()  # whatever changed while not listening is read now
                    async for _ in conn.notifies():
                        self.changed()
            except psycopg.Error as exc:
                if not backoff.failures:  # once per outage; the poll carries on meanwhile
                    log.warning("database changes: not listening (%s); polling only until it comes back",
                                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                self.connected = False
                retry_at = backoff.failed(now=loop.time())
                await asyncio.sleep(max(0.0, retry_at - loop.time()))
