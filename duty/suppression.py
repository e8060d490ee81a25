"""Suppression: alerts that are recorded but not escalated to anyone.

- **Silences** (maintenance windows): per device, group or area (covering the areas under it), from a
  start to an end, with a reason and who set it; ended early by hand. Every change is in the audit log.
- **A parent offline**: a device may name its parent (a cabinet, a converter, a gateway) in its
  ``parent`` tag. While the parent has an active alert of one of the *offline rules*
  (``suppression.offline_rules`` in the duty files), its children's alerts of those rules are
  suppressed: one escalation for the converter, not one per gauge behind it.

>>> rule = SuppressionRules(offline_rules=frozenset({"gauge-offline"}), hold_s=30.0)
>>> rule.is_offline("gauge-offline"), rule.is_offline("culvert-water-level")
(True, False)
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from duty.errors import DutyError
from rules.alert_rows import time_param, time_value
from rules.alerts import AlertState
from streetwatch.database import Database


@dataclass(frozen=True, slots=True)
class SuppressionRules:
    offline_rules: frozenset[str] = frozenset()
    hold_s: float = 60.0
    """How long a child's offline alert waits for its parent's before it is escalated."""

    def is_offline(self, rule: str) -> bool:
        return rule in self.offline_rules


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    target_kind: str
    target: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    ended_early_at: datetime | None


def _silence(row: Mapping[str, object]) -> Silence:
    starts, ends = time_value(row["starts_at"]), time_value(row["ends_at"])
    assert starts is not None
    assert ends is not None
    return Silence(int(str(row["id"])), str(row["target_kind"]), str(row["target"]), starts, ends,
                   str(row["reason"]), str(row["created_by"]), time_value(row["ended_early_at"]))


class Silences:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, kind: str, target: str, *, starts_at: datetime, ends_at: datetime, reason: str,
                  by: str) -> Silence:
        if kind not in ("device", "group", "area"):
            raise DutyError(f"a silence is for a device, a group or an area, not a {kind}")
        if not reason.strip():
            raise DutyError("a silence needs a reason (--reason)")
        if ends_at <= starts_at:
            raise DutyError("a silence must end after it starts")
        silence_id = await self.db.fetch_value(
            "INSERT INTO duty_silences (target_kind, target, starts_at, ends_at, reason, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (kind, target, time_param(self.db, starts_at), time_param(self.db, ends_at), reason.strip(), by))
        return await self.get(int(silence_id))

    async def get(self, silence_id: int) -> Silence:
        row = await self.db.fetch_one("SELECT * FROM duty_silences WHERE id = ?", (silence_id,))
        if row is None:
            raise DutyError(f"no silence {silence_id}")
        return _silence(row)

    async def end(self, silence_id: int, now: datetime) -> Silence:
        silence = await self.get(silence_id)
        if silence.ends_at <= now or silence.ended_early_at is not None:
            raise DutyError(f"silence {silence_id} has ended already")
        await self.db.execute("UPDATE duty_silences SET ended_early_at = ? WHERE id = ?",
                              (time_param(self.db, now), silence_id))
        return await self.get(silence_id)

    async def active(self, now: datetime) -> builtins.list[Silence]:
        rows = await self.db.fetch_all(
            "SELECT * FROM duty_silences WHERE starts_at <= ? AND ends_at > ? AND ended_early_at IS NULL ORDER BY id",
            (time_param(self.db, now), time_param(self.db, now)))
        return [_silence(row) for row in rows]

    async def list(self, *, include_ended: bool = False, now: datetime) -> builtins.list[Silence]:
        if not include_ended:
            return await self.active(now)
        rows = await self.db.fetch_all("SELECT * FROM duty_silences ORDER BY id")
        return [_silence(row) for row in rows]


def silenced_by(silences: Sequence[Silence], device_id: str, groups: Sequence[str],
                area_chain: Sequence[str]) -> Silence | None:
    """The first active silence that covers the device, one of its groups, or its area or one above."""
    for silence in silences:
        if (silence.target_kind, silence.target) in {("device", device_id), *(("group", g) for g in groups),
                                                     *(("area", a) for a in area_chain)}:
            return silence
    return None


async def parent_offline(db: Database, parent: str, rules: SuppressionRules) -> str | None:
    """The offline rule the parent has an active alert of, or None."""
    if not rules.offline_rules:
        return None
    marks = ", ".join("?" for _ in rules.offline_rules)
    row = await db.fetch_one(
        f"SELECT rule FROM alerts WHERE device_id = ? AND state IN (?, ?) AND rule IN ({marks}) ORDER BY id LIMIT 1",
        (parent, AlertState.raised.value, AlertState.acknowledged.value, *sorted(rules.offline_rules)))
    return None if row is None else str(row["rule"])
