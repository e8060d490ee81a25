"""Suppression: a converter offline with 30 gauges behind it is one escalation, 30 recorded and none notified;
a silence (maintenance window) records its alerts without calling anyone, until it ends; an alert still
raised and unacknowledged when its silence expires escalates then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from device_registry import Registry
from duty.ack_links import AckSigner
from duty.escalation import Escalator
from duty.outbox import Outbox
from duty.places import registry_places
from duty.suppression import Silences
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertTransition
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import Database, open_database
from tests.duty.world import DUTY_FILE, GAUGE, START, city

SUPPRESSION = "suppression: {offline_rules: [device-offline, gauge-silent], hold: 30s}\n"


@dataclass
class World:
    db: Database
    clock: FakeClock
    alerts: AlertStore
    escalator: Escalator
    registry: Registry
    seq: int = 0

    async def raise_alert(self, rule: str, device: str, severity: str = "red") -> int:
        self.seq += 1
        change = await self.alerts.apply(AlertTransition(self.seq, AlertEvent.raised, rule, device, severity, None,
                                                         self.clock.now()))
        assert change is not None
        return change.alert.id

    async def escalations(self) -> dict[int, tuple[str, str]]:
        rows = await self.db.fetch_all("SELECT alert_id, stopped_by, suppressed FROM duty_escalations")
        return {int(r["alert_id"]): (str(r["stopped_by"]), str(r["suppressed"])) for r in rows}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/s.db")) as db:
        text = DUTY_FILE.replace("policies:", SUPPRESSION + "policies:")
        roster, registry, alerts = await city(db, text)
        escalator = Escalator(roster, alerts, Outbox(db), AckSigner(b"k" * 32), registry_places(registry),
                              clock=clock)
        yield World(db, clock, alerts, escalator, registry)


async def test_a_converter_offline_is_one_escalation_and_its_30_gauges_are_recorded_not_notified(
        world: World) -> None:
    # the parent stands for an RTU-over-TCP converter; any registered device can be a parent
    await world.registry.add(GAUGE.model_copy(update={"id": "CONV-1"}), by="test")
    gauges = [GAUGE.model_copy(update={"id": f"G-{i:02d}", "tags": {"parent": "CONV-1"}}) for i in range(30)]
    for gauge in gauges:
        await world.registry.add(gauge, by="test")
    # the gauges' alerts arrive first, the converter's a moment later: they wait for it
    children = [await world.raise_alert("gauge-silent", g.id) for g in gauges]
    await world.escalator.tick()
    assert await world.escalations() == {}
    world.clock.advance(seconds=5)
    parent = await world.raise_alert("device-offline", "CONV-1")
    await world.escalator.tick()
    found = await world.escalations()
    assert found.pop(parent) == ("", "")  # escalating
    assert set(found) == set(children)
    assert set(found.values()) == {("suppressed", "parent CONV-1 is offline (device-offline)")}
    rows = await world.db.fetch_all("SELECT DISTINCT alert_id FROM duty_outbox")
    assert [int(r["alert_id"]) for r in rows] == [parent]  # one notification chain, for the converter
    assert len(await world.alerts.active_alerts()) == 31  # every alert is still recorded and visible


async def test_a_childs_offline_alert_without_its_parent_is_escalated_after_the_hold(world: World) -> None:
    await world.registry.add(GAUGE.model_copy(update={"id": "G-1", "tags": {"parent": "CONV-1"}}), by="test")
    child = await world.raise_alert("gauge-silent", "G-1")
    world.clock.advance(seconds=29)
    await world.escalator.tick()
    assert child not in await world.escalations()
    world.clock.advance(seconds=1)
    await world.escalator.tick()
    assert (await world.escalations())[child] == ("", "")


async def test_a_silence_records_without_calling_until_it_ends(world: World) -> None:
    silences = Silences(world.db)
    now = world.clock.now()
    silence = await silences.add("group", "hazard-jingtai", starts_at=now, ends_at=now + timedelta(hours=2),
                                 reason="pump maintenance", by="ops")
    during = await world.raise_alert("culvert-water-level", "CUL-7")
    await world.escalator.tick()
    assert (await world.escalations())[during] == (
        "suppressed", f"silence {silence.id} (group hazard-jingtai): pump maintenance")
    assert await world.db.fetch_all("SELECT id FROM duty_outbox") == []
    await world.alerts.clear(during, "ops", None, world.clock.now())
    world.clock.advance(seconds=60)
    await silences.end(silence.id, world.clock.now())
    after = await world.raise_alert("culvert-water-level", "CUL-7")
    await world.escalator.tick()
    assert (await world.escalations())[after] == ("", "")
    assert len(await world.db.fetch_all("SELECT id FROM duty_outbox")) == 2  # SMS and e-mail to chen
    with pytest.raises(Exception, match="has ended already"):
        await silences.end(silence.id, world.clock.now())


async def test_an_alert_still_raised_when_its_silence_expires_starts_its_escalation_then(world: World) -> None:
    await world.registry.add(GAUGE.model_copy(update={"id": "CUL-8"}), by="test")
    now = world.clock.now()
    await Silences(world.db).add("group", "hazard-jingtai", starts_at=now, ends_at=now + timedelta(hours=2),
                                 reason="pump maintenance", by="ops")
    flooding = await world.raise_alert("culvert-water-level", "CUL-7")
    seen = await world.raise_alert("culvert-water-level", "CUL-8")
    await world.escalator.tick()
    assert {a: why for a, (_stopped, why) in (await world.escalations()).items()} == {
        flooding: "silence 1 (group hazard-jingtai): pump maintenance",
        seen: "silence 1 (group hazard-jingtai): pump maintenance"}
    await world.alerts.acknowledge(seen, "ops", "the pump crew is on it", world.clock.now())
    world.clock.advance(seconds=2 * 3600 - 1)
    await world.escalator.tick()
    assert await world.db.fetch_all("SELECT id FROM duty_outbox") == []  # one second before the end
    world.clock.advance(seconds=1)
    await world.escalator.tick()
    found = await world.escalations()
    assert found[flooding] == ("", "")  # escalating now
    assert found[seen] == ("suppressed", "silence 1 (group hazard-jingtai): pump maintenance")
    rows = await world.db.fetch_all("SELECT alert_id, recipient, channel FROM duty_outbox ORDER BY id")
    assert [(int(r["alert_id"]), r["recipient"], r["channel"]) for r in rows] == [
        (flooding, "chen", "sms"), (flooding, "chen", "email")]  # 12:00 local: the community's day officer
    await world.escalator.tick()
    assert len(await world.db.fetch_all("SELECT id FROM duty_outbox")) == 2  # started once


async def test_children_still_silent_after_their_converter_is_back_escalate_then(world: World) -> None:
    await world.registry.add(GAUGE.model_copy(update={"id": "CONV-1"}), by="test")
    for i in range(3):
        await world.registry.add(GAUGE.model_copy(update={"id": f"G-{i}", "tags": {"parent": "CONV-1"}}), by="test")
    parent = await world.raise_alert("device-offline", "CONV-1")
    children = [await world.raise_alert("gauge-silent", f"G-{i}") for i in range(3)]
    await world.escalator.tick()
    assert {a: why for a, (_, why) in (await world.escalations()).items() if a in children} == dict.fromkeys(
        children, "parent CONV-1 is offline (device-offline)")
    # The converter answers again; G-0 and G-1 report again (their alerts clear), G-2 stays silent.
    await world.alerts.clear(parent, "gateway", None, world.clock.now())
    for child in children[:2]:
        await world.alerts.clear(child, "gateway", None, world.clock.now())
    world.clock.advance(seconds=60)
    await world.escalator.tick()
    found = await world.escalations()
    assert found[children[2]] == ("", "")  # its own outage now: it escalates
    assert [found[c][1] for c in children[:2]] == ["parent CONV-1 is offline (device-offline)"] * 2  # quiet
    rows = await world.db.fetch_all("SELECT DISTINCT alert_id FROM duty_outbox ORDER BY alert_id")
    assert [int(r["alert_id"]) for r in rows] == [parent, children[2]]
