"""Task orders: states with who and when, refused steps named, and the SLA escalated to the area's head."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from duty.files import parse_duty_text
from duty.outbox import Outbox
from duty.roster import Roster
from duty.task_sla import escalate_overdue
from duty.tasks import Move, Tasks, TaskState
from people import Areas, Users
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.duty.test_cli import Cli, _setup
from tests.duty.test_cli import cli as cli  # noqa: PLC0414 - the fixture, shared

NOW = datetime(2026, 7, 1, 2, tzinfo=UTC)


async def test_a_task_goes_through_its_states_and_an_overdue_one_reaches_the_head(tmp_path: Path) -> None:
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/t.db")) as db:
        plan = parse_duty_text("task_types: [{name: close_underpass, accept_within: 10m}]", ".yaml", "d.yaml")
        roster = Roster(db, plan, "Asia/Shanghai")
        await roster.migrate()
        await Areas(db).add("baiyun", "Baiyun", level="district")
        await Areas(db).add("xinshi", "Xinshi", parent="baiyun", level="community")
        for name in ("chen", "zhao"):
            await Users(db).add(name, "a long enough password", now=NOW)
        await roster.contacts.add("zhao", "sms", "13800000005")
        await roster.responsibility.assign("area", "baiyun", "zhao", "head")
        tasks, outbox = Tasks(db), Outbox(db)
        assert plan.accept_within_s("close_underpass") == 600 and plan.accept_within_s("other") == 1800

        first = await tasks.create(kind="close_underpass", title="Close Jingtai underpass", area="xinshi",
                                   assignee="chen", by="dispatcher", now=NOW, accept_within_s=600)
        assert first.state is TaskState.dispatched and first.accept_by == NOW + timedelta(minutes=10)
        await tasks.move(first.id, Move.accept, by="chen", now=NOW + timedelta(minutes=3))
        with pytest.raises(Exception, match="task 1 is accepted; it cannot go to accepted"):
            await tasks.move(first.id, Move.accept, by="chen", now=NOW + timedelta(minutes=4))
        await tasks.move(first.id, Move.onsite, by="chen", now=NOW + timedelta(minutes=9))
        done = await tasks.move(first.id, Move.done, by="chen", now=NOW + timedelta(minutes=30), note="closed")
        assert done.state is TaskState.done
        assert [(e.state.value, e.by, e.at - NOW) for e in await tasks.events(first.id)] == [
            ("dispatched", "dispatcher", timedelta()), ("accepted", "chen", timedelta(minutes=3)),
            ("onsite", "chen", timedelta(minutes=9)), ("done", "chen", timedelta(minutes=30))]

        late = await tasks.create(kind="close_underpass", title="Send a pump", area="xinshi", assignee="chen",
                                  by="dispatcher", now=NOW, accept_within_s=600)
        assert await escalate_overdue(tasks, roster, outbox, NOW + timedelta(minutes=9, seconds=59)) == 0
        assert await escalate_overdue(tasks, roster, outbox, NOW + timedelta(minutes=10)) == 1
        assert await escalate_overdue(tasks, roster, outbox, NOW + timedelta(minutes=20)) == 0  # once
        (row,) = await outbox.due(NOW + timedelta(minutes=20))
        assert (row.item.recipient, row.item.address) == ("zhao", "+8613800000005")
        assert row.item.body.startswith("【任务超时】Send a pump（close_underpass）派给chen，10分钟未接单")
        assert (await tasks.get(late.id)).sla_breached_at == NOW + timedelta(minutes=10)


def test_task_commands(cli: Cli) -> None:
    _setup(cli)
    assert cli("area", "add", "xinshi", "--name", "Xinshi", "--level", "community", "--parent", "jingtai")[0] == 0
    code, out, err = cli("task", "create", "--type", "close_underpass", "--title", "Close the underpass",
                         "--area", "xinshi", "--to", "chen", "--by", "dispatcher")
    assert code == 0, err
    assert out.startswith("task 1 dispatched to chen; accept by ")
    assert cli("task", "accept", "1", "--by", "chen") == (0, "task 1 is accepted\n", "")
    code, _, err = cli("task", "accept", "1")
    assert code == 2 and "task 1 is accepted; it cannot go to accepted from there" in err
    assert cli("task", "onsite", "1", "--by", "chen")[0] == 0
    assert cli("task", "done", "1", "--by", "chen", "--note", "closed at 10:40")[0] == 0
    code, out, _ = cli("task", "list", "--area", "baiyun", "--format", "json")
    assert [(t["id"], t["state"], t["assignee"]) for t in json.loads(out)] == [(1, "done", "chen")]
    code, out, _ = cli("task", "show", "1", "--format", "csv")
    assert "done,chen,closed at 10:40" in out
    code, _, err = cli("task", "create", "--type", "x", "--title", "y", "--area", "nowhere", "--to", "chen")
    assert code == 2 and "no area 'nowhere'" in err
    code, _, err = cli("task", "create", "--type", "x", "--title", "y", "--area", "xinshi", "--to", "chen",
                       "--alert", "99")
    assert code == 2 and "--alert: no alert 99" in err
