"""``streetwatch report duty``: a month of alerts and task orders of an area and the areas under it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from device_registry import Registry
from duty.files import DutyPlan
from duty.report import percentile
from duty.roster import Roster
from duty.tasks import Move, Tasks
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.test_cli import Cli
from tests.duty.test_cli import cli as cli  # noqa: PLC0414 - the fixture, shared
from tests.duty.world import GAUGE

T0 = datetime(2026, 7, 3, 2, tzinfo=UTC)


async def _seed(database_url: str) -> None:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        roster = Roster(db, DutyPlan(), "Asia/Shanghai")
        await roster.migrate()
        for area, parent, level in (("baiyun", "root", "district"), ("jingtai", "baiyun", "street"),
                                    ("xinshi", "jingtai", "community"), ("tianhe", "root", "district")):
            await roster.areas.add(area, area, parent=parent, level=level)
        registry, alerts = Registry(db), AlertStore(db)
        await registry.migrate()
        await alerts.migrate()
        await registry.add(GAUGE, by="test")  # in xinshi, under baiyun
        await registry.add(GAUGE.model_copy(update={"id": "CUL-9", "area": "tianhe"}), by="test")
        raised = []
        for seq, (device, severity, at) in enumerate([
                ("CUL-7", "red", T0), ("CUL-7", "orange", T0 + timedelta(days=1)),
                ("CUL-7", "red", T0 + timedelta(days=2)), ("CUL-9", "red", T0),        # outside baiyun
                ("CUL-7", "red", datetime(2026, 6, 30, 15, 59, tzinfo=UTC))]):         # 23:59 on 30 June local
            change = await alerts.apply(AlertTransition(seq, AlertEvent.raised, f"r{seq}", device, severity, None, at))
            assert change is not None
            raised.append(change.alert)
        await alerts.acknowledge(raised[0].id, "chen", None, T0 + timedelta(seconds=60))
        await alerts.acknowledge(raised[1].id, "li", None, T0 + timedelta(days=1, seconds=300))
        await alerts.clear(raised[0].id, "chen", None, T0 + timedelta(hours=2))
        tasks = Tasks(db)
        first = await tasks.create(kind="close_underpass", title="close", area="xinshi", assignee="chen", by="d",
                                   now=T0, accept_within_s=600)
        await tasks.move(first.id, Move.accept, by="chen", now=T0 + timedelta(minutes=2))
        await tasks.create(kind="send_pump", title="pump", area="jingtai", assignee="li", by="d", now=T0,
                           accept_within_s=600)
        await db.execute("UPDATE duty_tasks SET sla_breached_at = created_at WHERE kind = 'send_pump'")
        await tasks.create(kind="send_pump", title="elsewhere", area="tianhe", assignee="li", by="d", now=T0,
                           accept_within_s=600)


def test_the_monthly_report_of_an_area(cli: Cli, database_url: str) -> None:
    asyncio.run(_seed(database_url))
    code, out, err = cli("report", "duty", "--area", "baiyun", "--month", "2026-07", "--format", "json")
    assert code == 0, err
    assert {row["what"]: row["value"] for row in json.loads(out)} == {
        "alerts orange": 1, "alerts red": 2, "acknowledged": 2, "unacknowledged": 1,
        "time to acknowledge, median": "3m", "time to acknowledge, p90": "4m36s",
        "time to resolve, median": "2h", "tasks accepted": 1, "tasks dispatched": 1, "task SLA breaches": 1}
    code, _, err = cli("report", "duty", "--area", "baiyun", "--month", "July")
    assert code == 2 and "--month 'July': write it as YYYY-MM" in err


@pytest.mark.parametrize(("values", "pct", "expected"), [
    ([], 50, None), ([5.0], 90, 5.0), ([60.0, 300.0], 50, 180.0), ([60.0, 300.0], 90, 276.0)])
def test_percentiles(values: list[float], pct: float, expected: float | None) -> None:
    assert percentile(values, pct) == expected
