"""A rule's ``dispatch_task`` action: each alert transition that reaches the action's severity dispatches one
task order, read from the stored alert history; a second tick, a restarted dispatcher or a second gateway
dispatches nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from device_registry import Registry
from duty.places import registry_places
from duty.roster import Roster
from duty.rule_tasks import RuleTasks
from duty.suppression import Silences
from duty.tasks import Task, Tasks
from people import Users
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from rules.loader import RuleSet, parse_ruleset
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, open_database
from tests.duty.world import DUTY_FILE, START, city

RULES = """
rules:
  - name: culvert-water-level
    kind: threshold
    metric: water_level_mm
    levels: {yellow: 300, red: 800}
    actions:
      - {at: yellow, action: dispatch_task, params: {type: inspect, title: "巡查涵洞", to: zhao}}
      - {at: red, action: dispatch_task, params: {type: close_underpass, title: "封闭涵洞"}}
      - {at: red, action: set_dim, target: group, groups_matching: "hazard-*", params: {level_pct: 100}}
  - name: culvert-gauge-offline
    kind: absence
    after: 10m
    severity: yellow
"""


@dataclass
class World:
    db: Database
    clock: FakeClock
    alerts: AlertStore
    roster: Roster
    dispatcher: RuleTasks
    ruleset: RuleSet
    seq: int = 0

    async def transition(self, event: AlertEvent, severity: str, previous: str | None = None,
                         rule: str = "culvert-water-level") -> int:
        self.seq += 1
        change = await self.alerts.apply(AlertTransition(self.seq, event, rule, "CUL-7", severity, previous,
                                                         self.clock.now(), value=850.0))
        assert change is not None
        return change.alert.id

    async def tasks(self) -> list[Task]:
        return sorted(await Tasks(self.db).list(), key=lambda t: t.id)

    def restarted(self) -> RuleTasks:
        return RuleTasks(self.roster, self.alerts, registry_places(Registry(self.db)), lambda: self.ruleset)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/t.db")) as db:
        text = DUTY_FILE + "task_types:\n  - {name: close_underpass, accept_within: 10m}\n"
        roster, registry, alerts = await city(db, text)
        ruleset = parse_ruleset(RULES)
        dispatcher = RuleTasks(roster, alerts, registry_places(registry), lambda: ruleset)
        yield World(db, clock, alerts, roster, dispatcher, ruleset)


async def test_each_transition_dispatches_its_orders_once(world: World) -> None:
    alert = await world.transition(AlertEvent.raised, "yellow")
    assert await world.dispatcher.tick(world.clock.now()) == 1
    world.clock.advance(seconds=60)
    await world.transition(AlertEvent.escalated, "red", "yellow")
    assert await world.dispatcher.tick(world.clock.now()) == 1
    assert await world.dispatcher.tick(world.clock.now()) == 0
    assert await world.restarted().tick(world.clock.now()) == 0  # a restart, or a second gateway
    inspect, close = await world.tasks()
    assert (inspect.kind, inspect.assignee, inspect.alert_id, inspect.created_by) == (
        "inspect", "zhao", alert, "rule:culvert-water-level")
    assert inspect.title == "巡查涵洞 · CUL-7"
    # nobody is responsible for the gauge, its hazard point or its areas: the community's officer on shift
    assert (close.kind, close.assignee, close.area, close.state.value) == ("close_underpass", "chen", "xinshi",
                                                                          "dispatched")
    assert (close.accept_by - close.created_at).total_seconds() == 600  # the task type's SLA


async def test_the_hazard_points_responsible_crew_gets_the_order_and_a_reopened_alert_orders_again(
        world: World) -> None:
    await Users(world.db).add("pump-crew-3", "a long enough password", now=START)
    await world.roster.responsibility.assign("group", "hazard-jingtai", "pump-crew-3")
    alert = await world.transition(AlertEvent.raised, "red")
    assert await world.dispatcher.tick(world.clock.now()) == 2  # from nothing to red: yellow's and red's
    await world.transition(AlertEvent.cleared, "red", "red")  # the water went down, nobody acknowledged
    world.clock.advance(seconds=600)
    assert await world.transition(AlertEvent.raised, "red") == alert  # reopened: a new transition
    assert await world.dispatcher.tick(world.clock.now()) == 2
    assert [(t.kind, t.assignee) for t in await world.tasks()] == [
        ("inspect", "zhao"), ("close_underpass", "pump-crew-3")] * 2


async def test_no_orders_for_alerts_that_cleared_or_rules_without_orders(
        world: World) -> None:
    cleared = await world.transition(AlertEvent.raised, "red")
    await world.alerts.clear(cleared, "ops", None, world.clock.now())
    await world.transition(AlertEvent.raised, "yellow", rule="culvert-gauge-offline")
    assert await world.dispatcher.tick(world.clock.now()) == 0
    assert await world.tasks() == []
    nothing = RuleTasks(world.roster, world.alerts, registry_places(Registry(world.db)), lambda: None)
    assert await nothing.tick(world.clock.now()) == 0  # the rules service is not running yet


async def test_a_silence_holds_the_orders_back_until_it_ends_and_drops_those_of_alerts_cleared_meanwhile(
        world: World) -> None:
    silences = Silences(world.db)
    await silences.add("area", "jingtai", starts_at=START, ends_at=START + timedelta(hours=1),
                       reason="pump station maintenance", by="ops")
    await world.transition(AlertEvent.raised, "yellow")
    assert await world.dispatcher.tick(world.clock.now()) == 0  # the street, and the gauge's community, are silenced
    assert await world.tasks() == []
    world.clock.advance(seconds=3_601)
    assert await world.dispatcher.tick(world.clock.now()) == 1  # still raised when the silence ended: the order goes
    assert [(t.kind, t.assignee) for t in await world.tasks()] == [("inspect", "zhao")]

    await silences.add("device", "CUL-7", starts_at=world.clock.now(), ends_at=world.clock.now() + timedelta(hours=1),
                       reason="sensor swap", by="ops")
    await world.transition(AlertEvent.escalated, "red", "yellow")
    assert await world.dispatcher.tick(world.clock.now()) == 0
    red = (await world.tasks())[-1]
    assert red.kind == "inspect"  # no close_underpass while the device is silenced
    await world.alerts.clear(red.alert_id or 0, "ops", None, world.clock.now())  # the water went down meanwhile
    world.clock.advance(seconds=3_601)
    assert await world.dispatcher.tick(world.clock.now()) == 0
    assert len(await world.tasks()) == 1
