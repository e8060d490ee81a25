"""The two-person rule: a command for many devices, or for a whole district, waits for a second person.

A request holds the command as it was resolved when asked (its devices), so the second person approves
exactly what they were shown. The requester cannot approve their own; a request nobody approves expires.
On approval the command is created through the same store the CLI uses, and the gateway carries it out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from control import Action, Command, CommandStore, CommandTarget
from people.timestamps import as_datetime, stamp
from streetwatch.database import Database

AWAITING = "awaiting_approval"


class ApprovalRefused(Exception):
    """The request cannot be approved: ``status`` says how the API answers (404, 403 or 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: int
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    target: CommandTarget
    action: Action
    params: dict[str, Any]
    device_ids: tuple[str, ...]
    device_areas: frozenset[str]
    reason: str
    ttl_s: float
    why: str
    state: str
    decided_by: str | None
    decided_at: datetime | None
    command_id: int | None

    def state_at(self, now: datetime) -> str:
        return "expired" if self.state == AWAITING and now >= self.expires_at else self.state


def _request(row: Mapping[str, Any]) -> ApprovalRequest:
    decided = row["decided_at"]
    return ApprovalRequest(
        int(row["id"]), str(row["requested_by"]), as_datetime(row["requested_at"]), as_datetime(row["expires_at"]),
        CommandTarget(row["target_kind"], str(row["target_value"])), Action(str(row["action"])),
        json.loads(str(row["params"])), tuple(json.loads(str(row["device_ids"]))),
        frozenset(json.loads(str(row["device_areas"]))), str(row["reason"]), float(row["ttl_s"]), str(row["why"]),
        str(row["state"]), None if row["decided_by"] is None else str(row["decided_by"]),
        None if decided is None else as_datetime(decided),
        None if row["command_id"] is None else int(row["command_id"]))


class Approvals:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def request(self, *, requested_by: str, target: CommandTarget, action: Action, params: dict[str, Any],
                      device_ids: Sequence[str], device_areas: frozenset[str], reason: str, ttl_s: float, why: str,
                      now: datetime, lifetime: timedelta) -> ApprovalRequest:
        request_id = await self.db.fetch_value(
            "INSERT INTO approval_requests (requested_by, requested_at, expires_at, target_kind, target_value, "
            "action, params, device_ids, device_areas, reason, ttl_s, why, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (requested_by, stamp(now), stamp(now + lifetime), target.kind, target.value, action.value,
             json.dumps(params, sort_keys=True), json.dumps(list(device_ids)), json.dumps(sorted(device_areas)),
             reason, ttl_s, why, AWAITING))
        return await self.get(int(request_id))

    async def get(self, request_id: int) -> ApprovalRequest:
        row = await self.db.fetch_one("SELECT * FROM approval_requests WHERE id = ?", (request_id,))
        if row is None:
            raise ApprovalRefused(404, f"no approval request {request_id}")
        return _request(row)

    async def list(self, *, open_only: bool = False, limit: int = 100) -> list[ApprovalRequest]:
        where = "WHERE state = ? " if open_only else ""
        params: tuple[Any, ...] = (AWAITING, limit) if open_only else (limit,)
        rows = await self.db.fetch_all(f"SELECT * FROM approval_requests {where}ORDER BY id DESC LIMIT ?", params)
        return [_request(row) for row in rows]

    async def approve(self, request_id: int, *, by: str, now: datetime, commands: CommandStore) -> Command:
        """Create the command the request holds; refused for the requester, or when no longer awaiting."""
        request = await self.get(request_id)
        state = request.state_at(now)
        if state != AWAITING:
            raise ApprovalRefused(409, f"approval request {request_id} is {state}")
        if by == request.requested_by:
            raise ApprovalRefused(403, "the requester cannot approve their own command; a second person must")
        # Claim it first: of two approvers at once, one wins and the other is told it is approved.
        claimed = await self.db.execute(
            "UPDATE approval_requests SET state = 'approved', decided_by = ?, decided_at = ? "
            "WHERE id = ? AND state = ?", (by, stamp(now), request_id, AWAITING))
        if not claimed:
            raise ApprovalRefused(409, f"approval request {request_id} was decided meanwhile")
        command = await commands.create(request.target, request.action, request.params, list(request.device_ids),
                                        requester=f"{request.requested_by} (approved by {by})",
                                        reason=request.reason, ttl_s=request.ttl_s)
        await self.db.execute("UPDATE approval_requests SET command_id = ? WHERE id = ?", (command.id, request_id))
        return command
