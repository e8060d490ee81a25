"""Task orders of rules' ``dispatch_task`` actions, dispatched once per alert transition.

The rules engine stores each transition in the alert history (a raise, a reopening, an escalation);
this reads those rows, not the engine's memory, so an order survives a database outage and a restart
of the gateway: a transition stored is an order dispatched, at the next tick the database answers. The
row's history id is the key: marking it handled and dispatching its orders is one transaction, so a
tick replayed after a crash, or a second gateway, dispatches nothing twice.

Only transitions of alerts still raised or acknowledged, and of the last ``lookback_s``, are looked at:
an alert that cleared before its order could go out needs none, and a rule given a ``dispatch_task``
today does not dispatch orders for last month's alerts.

>>> dispatcher = RuleTasks(roster, alerts, place_of, lambda: ruleset)   # doctest: +SKIP
>>> await dispatcher.tick(now)                                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from duty.escalation import PlaceOf
from duty.recipients import Place
from duty.roster import Roster
from duty.suppression import Silence, Silences, silenced_by
from duty.tasks import Tasks
from rules.alert_rows import time_param
from rules.alert_store import AlertStore
from rules.alerts import Alert, AlertEvent, AlertState
from rules.loader import RuleSet
from rules.spec import RuleSpec
from rules.task_actions import TaskAction, task_actions, triggered
from streetwatch.database import Row

log = logging.getLogger(__name__)
BATCH = 500
ROLE = "duty_officer"
"""Whose rota answers when a device has nobody responsible for it."""


class RuleTasks:
    def __init__(self, roster: Roster, alerts: AlertStore, place_of: PlaceOf,
                 rules_of: Callable[[], RuleSet | None], *, lookback_s: float = 86_400.0) -> None:
        self.roster = roster
        self.alerts = alerts
        self.db = roster.db
        self.tasks = Tasks(roster.db)
        self.place_of = place_of
        self.rules_of = rules_of
        self.lookback_s = lookback_s
        self.dispatched = 0

    async def tick(self, now: datetime) -> int:
        """Dispatch the orders of every transition not handled yet; the number of orders."""
        ruleset = self.rules_of()
        rules = {rule.name: rule for rule in ruleset.rules if task_actions(rule)} if ruleset is not None else {}
        if not rules or ruleset is None:
            return 0
        events = (AlertEvent.raised.value, AlertEvent.reopened.value, AlertEvent.escalated.value)
        rule_marks, event_marks = ", ".join("?" for _ in rules), ", ".join("?" for _ in events)
        silences = await Silences(self.db).active(now)
        count, after = 0, 0
        while True:  # page past the transitions a silence holds back, so they do not block the others
            rows = await self.db.fetch_all(
                f"SELECT h.id, h.alert_id, h.event, h.severity, a.rule FROM alert_history h "
                f"JOIN alerts a ON a.id = h.alert_id LEFT JOIN duty_rule_tasks d ON d.history_id = h.id "
                f"WHERE d.history_id IS NULL AND h.event IN ({event_marks}) AND a.rule IN ({rule_marks}) "
                f"AND a.state IN (?, ?) AND h.at >= ? AND h.id > ? ORDER BY h.id LIMIT ?",
                (*events, *sorted(rules), AlertState.raised.value, AlertState.acknowledged.value,
                 time_param(self.db, now - timedelta(seconds=self.lookback_s)), after, BATCH))
            count += await self._rows(rows, rules, ruleset, silences, now)
            if len(rows) < BATCH:
                break
            after = int(rows[-1]["id"])
        self.dispatched += count
        return count

    async def _rows(self, rows: list[Row], rules: dict[str, RuleSpec], ruleset: RuleSet, silences: list[Silence],
                    now: datetime) -> int:
        count = 0
        for row in rows:
            history_id, alert_id = int(row["id"]), int(row["alert_id"])
            before = None
            if row["event"] == AlertEvent.escalated.value:
                before = await self.db.fetch_value(
                    "SELECT severity FROM alert_history WHERE alert_id = ? AND id < ? ORDER BY id DESC LIMIT 1",
                    (alert_id, history_id))
            actions = triggered(rules[str(row["rule"])], ruleset.scale, None if before is None else str(before),
                                str(row["severity"]))
            alert = await self.alerts.get(alert_id)
            place = await self.place_of(alert)
            silence = silenced_by(silences, place.device_id, place.groups, await self.roster.chain(place.area))
            if silence is not None:
                # Held back, not dropped: unmarked, the order goes out at the first tick after the silence
                # if the alert is still open (as its escalation starts then).
                continue
            count += await self._dispatch(history_id, alert, place, actions, str(row["rule"]), now)
        return count

    async def _dispatch(self, history_id: int, alert: Alert, place: Place, actions: list[TaskAction], rule: str,
                        now: datetime) -> int:
        alert_id = alert.id
        where = alert.location.landmark if alert.location is not None and alert.location.landmark else alert.device_id
        orders: list[tuple[TaskAction, str]] = []
        for action in actions:
            assignee = action.assignee or await self.assignee(place, now)
            if not assignee:
                log.warning("rule %s: task %s for alert %d has nobody to go to in area %s (no one responsible, "
                            "nobody on duty); it is dispatched unassigned", rule, action.task_type, alert_id,
                            place.area)
            orders.append((action, assignee))
        count = 0
        async with self.db.transaction() as tx:
            marked = await tx.fetch_value(
                "INSERT INTO duty_rule_tasks (history_id, alert_id, handled_at, tasks) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING history_id", (history_id, alert_id, time_param(tx, now), len(orders)))
            if marked is None:
                return 0  # another gateway took it
            for action, assignee in orders:
                task_id = await self.tasks.insert(
                    tx, kind=action.task_type, title=f"{action.title} · {where}", area=place.area, assignee=assignee,
                    by=f"rule:{rule}", now=now, accept_within_s=self.roster.plan.accept_within_s(action.task_type),
                    alert_id=alert_id, request_key=f"alert:{alert_id}:history:{history_id}:action:{action.index}")
                count += task_id is not None
        for action, assignee in orders:
            log.info("rule %s: task %s for alert %d dispatched to %s", rule, action.task_type, alert_id,
                     assignee or "(nobody)")
        return count

    async def assignee(self, place: Place, now: datetime) -> str:
        """Who takes a rule's order at ``place``: the nearest responsible person (the device's, its hazard
        point's, its area's and up), else the nearest duty officer on shift; empty when nobody."""
        chain = await self.roster.chain(place.area)
        responsible = await self.roster.responsibility.for_device(place.device_id, place.groups, chain)
        if responsible:
            return responsible[0]
        for area in chain:
            person = await self.roster.on_duty(area, ROLE, now)
            if person:
                return person
        return ""




def assignee_problems(ruleset: RuleSet, people: Iterable[str]) -> list[str]:
    """Rules' task orders naming (``to``) a person or crew that does not exist, each with the rule's place."""
    known = set(people)
    return [f"{ruleset.origins.get(rule.name, rule.name)}: rule {rule.name}: actions[{action.index}].params.to: "
            f"person {action.assignee!r} does not exist"
            for rule in ruleset.rules for action in task_actions(rule)
            if action.assignee is not None and action.assignee not in known]
