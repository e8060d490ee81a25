"""Escalating task orders nobody accepted in time: the head of the task's area (or the nearest area
above it that has one) gets an SMS and an e-mail, queued in the outbox once per task."""

from __future__ import annotations

import logging
from datetime import datetime

from duty.outbox import Outbox, OutboxItem
from duty.recipients import contacts_for
from duty.roster import Roster
from duty.tasks import Tasks
from rules.alert_rows import time_param

log = logging.getLogger(__name__)
CHANNELS = ("sms", "email", "wecom", "dingtalk", "feishu")


async def escalate_overdue(tasks: Tasks, roster: Roster, outbox: Outbox, now: datetime) -> int:
    """Mark every dispatched task past its deadline as breached and notify its area's head; the number."""
    count = 0
    for task in await tasks.overdue(now):
        heads: list[str] = []
        for area in await roster.chain(task.area):
            heads = await roster.responsibility.of("area", area, "head")
            if heads:
                break
        minutes = int((now - task.created_at).total_seconds() // 60)
        subject = f"【任务超时】{task.title}"
        body = (f"【任务超时】{task.title}（{task.kind}）派给{task.assignee}，{minutes}分钟未接单。任务编号{task.id}\n"
                f"[Task overdue] {task.title} ({task.kind}) for {task.assignee}, not accepted after {minutes} min. "
                f"Task {task.id}")
        items = [OutboxItem(f"task:{task.id}:sla:{c.person}:{c.channel}:{c.address}", task.alert_id or 0, c.person,
                            c.channel, c.address, subject, body)
                 for c in await contacts_for(roster, heads, CHANNELS)]
        if not items:
            log.warning("task %d is overdue and area %s has no head to tell", task.id, task.area)
        async with roster.db.transaction() as tx:
            await outbox.enqueue(items, now, db=tx)
            await tx.execute("UPDATE duty_tasks SET sla_breached_at = ? WHERE id = ?", (time_param(tx, now), task.id))
        count += 1
    return count
