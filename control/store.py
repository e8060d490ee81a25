"""Commands and their deliveries in the database: the audit trail, and the queue the dispatcher reads.

Creating a command inserts it with one ``queued`` delivery per device and, in the same transaction,
marks every older open delivery of the same set-point kind to those devices ``superseded``. A
command created with a ``request_key`` is created once: creating it again returns the first. Status
changes are conditional on the delivery still being open, so the first final status sticks: a late
confirmation never turns a cancelled or superseded delivery into a confirmed one.

>>> store = await CommandStore.open(db)                                  # doctest: +SKIP
>>> command = await store.create(CommandTarget("group", "harbour-road"), Action.set_dim,  # doctest: +SKIP
...                              {"level_pct": 50}, ["LP-1", "LP-2"], requester="alice",
...                              reason="event tonight", ttl_s=900)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from control.errors import UnknownCommand
from control.migrations import MIGRATIONS
from control.model import (
    Action,
    Command,
    CommandProgress,
    CommandTarget,
    Delivery,
    DeliveryStatus,
)
from streetwatch.clock import Clock, SystemClock
from streetwatch.database import Database, Row
from streetwatch.migrations import migrate

_OPEN = "('queued', 'sent')"
_COMMAND_COLUMNS = ("id, action, params, target_kind, target_value, requester, reason, created_at, expires_at, "
                    "device_count, cancelled_at")
_DELIVERY_COLUMNS = ("d.id, d.command_id, d.device_id, d.status, d.attempts, d.created_at, d.expires_at, d.sent_at, "
                     "d.finished_at, d.error, c.action, c.params")


def to_db(ts: datetime | None, backend: str) -> Any:
    """A time as the database keeps it: TIMESTAMPTZ, or fixed-width UTC text in SQLite."""
    if ts is None or backend == "postgresql":
        return ts
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _at(value: Any) -> datetime:
    ts = from_db(value)
    assert ts is not None
    return ts


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery's new state; applied only while the delivery is still open."""

    delivery_id: int
    status: DeliveryStatus
    attempts: int
    at: datetime
    error: str | None = None

    def row(self, backend: str) -> tuple[Any, ...]:
        sent_at = to_db(self.at, backend) if self.status is DeliveryStatus.sent else None
        finished_at = None if self.status.is_open else to_db(self.at, backend)
        return (self.status.value, self.attempts, sent_at, finished_at, self.error, self.delivery_id)


def _command(row: Row) -> Command:
    return Command(
        id=int(row["id"]), action=Action(row["action"]), params=json.loads(row["params"]),
        target=CommandTarget(row["target_kind"], row["target_value"]), requester=row["requester"],
        reason=row["reason"], created_at=_at(row["created_at"]), expires_at=_at(row["expires_at"]),
        device_count=int(row["device_count"]), cancelled_at=from_db(row["cancelled_at"]),
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=int(row["id"]), command_id=int(row["command_id"]), device_id=row["device_id"],
        action=Action(row["action"]), params=json.loads(row["params"]), status=DeliveryStatus(row["status"]),
        attempts=int(row["attempts"]), created_at=_at(row["created_at"]), expires_at=_at(row["expires_at"]),
        sent_at=from_db(row["sent_at"]), finished_at=from_db(row["finished_at"]), error=row["error"],
    )


class CommandStore:
    """The commands of one database. Cheap to make; :meth:`open` also applies the migrations."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()

    @classmethod
    async def open(cls, db: Database, clock: Clock | None = None) -> CommandStore:
        await migrate(db, MIGRATIONS)
        return cls(db, clock)

    def _ts(self, ts: datetime | None) -> Any:
        return to_db(ts, self.db.backend)

    async def create(self, target: CommandTarget, action: Action, params: dict[str, Any], device_ids: Sequence[str],
                     *, requester: str, reason: str, ttl_s: float, request_key: str | None = None) -> Command:
        """Queue ``action`` for each device; older open deliveries of the same kind are superseded.

        With a ``request_key`` already used, nothing is queued and the command made then is returned.
        """
        now = self.clock.now()
        expires = now + timedelta(seconds=ttl_s)
        kind = action.setpoint_kind
        async with self.db.transaction() as tx:
            if request_key is not None:
                rows = await tx.fetch_all(
                    f"SELECT {_COMMAND_COLUMNS} FROM control_commands WHERE request_key = ?", (request_key,))
                if rows:
                    return _command(rows[0])
            command_id = int(await tx.fetch_value(
                "INSERT INTO control_commands (action, params, target_kind, target_value, requester, reason, "
                "created_at, expires_at, device_count, request_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (action.value, json.dumps(params, sort_keys=True), target.kind, target.value, requester, reason,
                 self._ts(now), self._ts(expires), len(device_ids), request_key),
            ))
            await tx.executemany(
                "INSERT INTO control_deliveries (command_id, device_id, setpoint_kind, status, attempts, created_at, "
                "expires_at) VALUES (?, ?, ?, 'queued', 0, ?, ?)",
                [(command_id, device_id, kind, self._ts(now), self._ts(expires)) for device_id in device_ids],
            )
            await tx.execute(
                f"UPDATE control_deliveries SET status = 'superseded', superseded_by = ?, finished_at = ? "
                f"WHERE setpoint_kind = ? AND status IN {_OPEN} AND command_id < ? AND device_id IN "
                f"(SELECT device_id FROM control_deliveries WHERE command_id = ?)",
                (command_id, self._ts(now), kind, command_id, command_id),
            )
        return Command(command_id, action, params, target, requester, reason, now, expires, len(device_ids))

    async def command(self, command_id: int) -> Command:
        row = await self.db.fetch_one(f"SELECT {_COMMAND_COLUMNS} FROM control_commands WHERE id = ?", (command_id,))
        if row is None:
            raise UnknownCommand(f"no command with id {command_id}")
        return _command(row)

    async def _counts(self, command_ids: Sequence[int]) -> dict[int, dict[DeliveryStatus, int]]:
        if not command_ids:
            return {}
        marks = ", ".join("?" for _ in command_ids)
        rows = await self.db.fetch_all(
            f"SELECT command_id, status, count(*) AS n FROM control_deliveries WHERE command_id IN ({marks}) "
            f"GROUP BY command_id, status", tuple(command_ids))
        counts: dict[int, dict[DeliveryStatus, int]] = {i: {} for i in command_ids}
        for row in rows:
            counts[int(row["command_id"])][DeliveryStatus(row["status"])] = int(row["n"])
        return counts

    async def progress(self, command_id: int) -> CommandProgress:
        command = await self.command(command_id)
        return CommandProgress(command, (await self._counts([command_id]))[command_id])

    async def recent(self, *, limit: int = 20, open_only: bool = False, requester: str | None = None,
                   ) -> list[CommandProgress]:
        """The newest commands first."""
        where, params = [], []
        if open_only:
            where.append(f"EXISTS (SELECT 1 FROM control_deliveries d WHERE d.command_id = control_commands.id "
                         f"AND d.status IN {_OPEN})")
        if requester is not None:
            where.append("requester = ?")
            params.append(requester)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self.db.fetch_all(
            f"SELECT {_COMMAND_COLUMNS} FROM control_commands {clause}ORDER BY id DESC LIMIT ?", (*params, limit))
        commands = [_command(row) for row in rows]
        counts = await self._counts([c.id for c in commands])
        return [CommandProgress(c, counts[c.id]) for c in commands]

    async def deliveries(self, command_id: int, *, status: DeliveryStatus | None = None,
                         limit: int | None = None) -> list[Delivery]:
        clause, params = "", [command_id]
        if status is not None:
            clause = " AND d.status = ?"
            params.append(status.value)  # type: ignore[arg-type]
        limit_clause = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = await self.db.fetch_all(
            f"SELECT {_DELIVERY_COLUMNS} FROM control_deliveries d JOIN control_commands c ON c.id = d.command_id "
            f"WHERE d.command_id = ?{clause} ORDER BY d.id{limit_clause}", tuple(params))
        return [_delivery(row) for row in rows]

    async def open_deliveries(self, *, after_id: int = 0, limit: int = 10_000) -> list[Delivery]:
        """Open deliveries with an id above ``after_id``, oldest first: what a dispatcher has to do."""
        rows = await self.db.fetch_all(
            f"SELECT {_DELIVERY_COLUMNS} FROM control_deliveries d JOIN control_commands c ON c.id = d.command_id "
            f"WHERE d.status IN {_OPEN} AND d.id > ? ORDER BY d.id LIMIT ?", (after_id, limit))
        return [_delivery(row) for row in rows]

    async def cancel(self, command_id: int) -> int:
        """Cancel the command's open deliveries; return how many were still open."""
        await self.command(command_id)
        now = self._ts(self.clock.now())
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE control_commands SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
                             (now, command_id))
            return await tx.execute(
                f"UPDATE control_deliveries SET status = 'cancelled', finished_at = ? "
                f"WHERE command_id = ? AND status IN {_OPEN}", (now, command_id))

    async def cancelled_since(self, since: datetime | None) -> list[tuple[int, datetime]]:
        """Commands cancelled at or after ``since`` (all of them if None), oldest first."""
        rows = await self.db.fetch_all(
            "SELECT id, cancelled_at FROM control_commands WHERE cancelled_at IS NOT NULL AND cancelled_at >= ? "
            "ORDER BY cancelled_at", (self._ts(since or datetime(1970, 1, 1, tzinfo=UTC)),))
        return [(int(row["id"]), _at(row["cancelled_at"])) for row in rows]

    async def record(self, updates: Sequence[StatusUpdate]) -> None:
        """Apply status changes in one transaction, each only if its delivery is still open."""
        if not updates:
            return
        await self.db.executemany(
            f"UPDATE control_deliveries SET status = ?, attempts = ?, sent_at = COALESCE(sent_at, ?), "
            f"finished_at = ?, error = COALESCE(?, error) WHERE id = ? AND status IN {_OPEN}",
            [u.row(self.db.backend) for u in updates],
        )
