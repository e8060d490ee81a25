"""The audit log: who did what, as which role, in which area, from where, and with what result.

Append-only: this module only inserts and reads, and the database refuses UPDATE and DELETE on the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from people.timestamps import as_datetime, stamp
from streetwatch.database import Database

CLI_ADDRESS = "cli"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    area: str
    address: str
    action: str
    target: str
    detail: dict[str, Any]
    result: str


def _entry(row: Mapping[str, object]) -> AuditEntry:
    return AuditEntry(int(str(row["seq"])), as_datetime(row["at"]), str(row["actor"]), str(row["role"]),
                      str(row["area"]), str(row["address"]), str(row["action"]), str(row["target"]),
                      json.loads(str(row["detail"])), str(row["result"]))


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, *, actor: str, role: str, area: str, address: str, action: str, target: str,
                     result: str, now: datetime, detail: Mapping[str, Any] | None = None) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (at, actor, role, area, address, action, target, detail, result) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stamp(now), actor, role, area, address, action, target,
             json.dumps(dict(detail or {}), sort_keys=True, default=str, ensure_ascii=False), result))

    async def list(self, *, actor: str | None = None, since: datetime | None = None,
                   areas: frozenset[str] | None = None, after_seq: int = 0, limit: int = 100,
                   targets: frozenset[str] | None = None) -> list[AuditEntry]:
        """Entries newest first; ``areas`` keeps only those recorded in one of them, ``targets`` those about one
        of these targets (``LP-1``, ``group:riverside``)."""
        clauses: list[str] = ["seq > ?"]
        params: list[object] = [after_seq]
        if targets is not None:
            if not targets:
                return []
            clauses.append(f"target IN ({', '.join('?' * len(targets))})")
            params += sorted(targets)
        if actor is not None:
            clauses.append("actor = ?")
            params.append(actor)
        if since is not None:
            clauses.append("at >= ?")
            params.append(stamp(since))
        if areas is not None:
            if not areas:
                return []
            clauses.append(f"area IN ({', '.join('?' * len(areas))})")
            params += sorted(areas)
        rows = await self.db.fetch_all(
            f"SELECT * FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?", [*params, limit])
        return [_entry(row) for row in rows]
