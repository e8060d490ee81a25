"""The escalation engine on a FakeClock: a red alert reaches the community's duty officer by SMS (a real
HTTP receiver) and e-mail (a real aiosmtpd), then the street's, the district's and its head; it stops the
moment someone acknowledges (a signed one-time link) and records time to acknowledge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from device_registry import Registry
from duty.ack_links import AckSigner
from duty.acknowledge import acknowledge_by_link
from duty.channels import EmailAdapter, HttpGatewayAdapter
from duty.delivery import Deliverer
from duty.errors import AckLinkError
from duty.escalation import Escalator
from duty.files import parse_duty_text
from duty.outbox import Outbox
from duty.places import registry_places
from duty.roster import Roster
from rules.alert_store import AlertStore
from rules.alerts import AlertEvent, AlertLocation, AlertState, AlertTransition
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, HttpGatewaySettings
from streetwatch.database import open_database
from tests.duty.world import DUTY_FILE, START, build
from tests.fixtures.receivers import HttpReceiver, SmtpServer, http_receiver

pytestmark = pytest.mark.services


@dataclass
class World:
    clock: FakeClock
    roster: Roster
    alerts: AlertStore
    outbox: Outbox
    escalator: Escalator
    deliverer: Deliverer
    signer: AckSigner
    sms: HttpReceiver
    smtp: SmtpServer

    async def run(self) -> None:
        await self.escalator.tick()
        await self.deliverer.run_once()

    def sms_to(self) -> list[str]:
        return [r.json()["to"] for r in self.sms.requests]


@pytest.fixture
async def world(database_url: str, tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[World]:
    clock = FakeClock(START)
    url = DatabaseUrl.parse(database_url) if "://" in database_url else DatabaseUrl.parse(f"sqlite:///{tmp_path}/x")
    async with open_database(url) as db, http_receiver(lambda _r: (200, {"ok": True})) as sms, \
            httpx.AsyncClient() as client:
        roster = Roster(db, parse_duty_text(DUTY_FILE, ".yaml", "duty.yaml"), "Asia/Shanghai")
        await roster.migrate()
        registry = Registry(db)
        await registry.migrate()
        alerts = AlertStore(db)
        await alerts.migrate()
        await build(roster, registry)
        signer = AckSigner(b"0123456789abcdef0123456789abcdef")
        outbox = Outbox(db)
        escalator = Escalator(roster, alerts, outbox, signer, registry_places(registry), clock=clock,
                              public_url="https://sw.example.cn", map_url="https://map.example.cn/?q={lat},{lon}")
        adapters = {"email": EmailAdapter(host="127.0.0.1", port=smtp.port, sender="alerts@sw.example.cn"),
                    "sms": HttpGatewayAdapter(HttpGatewaySettings(url=sms.url + "/send", body='{"to": "{mobile}", '
                                                                '"text": "{text}"}'), client, clock)}
        deliverer = Deliverer(outbox, adapters, clock=clock)
        yield World(clock, roster, alerts, outbox, escalator, deliverer, signer, sms, smtp)


async def _raise_red(world: World) -> int:
    change = await world.alerts.apply(AlertTransition(
        seq=1, event=AlertEvent.raised, rule="culvert-water-level", device_id="CUL-7", severity="red",
        previous_severity=None, at=world.clock.now(), device_kind="culvert_gauge", metric="water_level_mm",
        value=820.0, threshold=800.0, location=AlertLocation(23.16, 113.27, "京泰路下穿涵洞"),
        context={"rise_10min": 35.0}))
    assert change is not None
    return change.alert.id


async def test_red_alert_climbs_the_area_tree_until_acknowledged_through_the_link(world: World) -> None:
    alert_id = await _raise_red(world)
    await world.run()
    # 10:00 local: the community's day officer, by SMS and e-mail
    assert world.sms_to() == ["+8613800000001"]
    (envelope, mail), = world.smtp.messages
    assert envelope.rcpt_tos == ["chen@baiyun.example"] and mail["Subject"] == "【红色预警】京泰路下穿涵洞"
    sms_text = world.sms.requests[0].json()["text"]
    assert sms_text.startswith("【红色预警】京泰路下穿涵洞 水位820mm，10分钟涨35mm。立即封闭道路")
    assert len(sms_text) <= 140

    world.clock.advance(seconds=119)
    await world.run()
    assert len(world.sms.requests) == 1  # the wait is not over
    world.clock.advance(seconds=1)
    await world.run()
    assert world.sms_to() == ["+8613800000001", "+8613800000003"]  # the street's officer
    english = world.smtp.messages[1][1].get_content()  # li reads English
    assert "Acknowledge: https://sw.example.cn/ack/" in english
    assert "Map: https://map.example.cn/?q=23.16,113.27" in english and "Place: 京泰路下穿涵洞 (CUL-7)" in english

    world.clock.advance(seconds=120)
    await world.run()
    assert world.sms_to()[-1] == "+8613800000004"  # the district's

    # the district officer acknowledges through the link in their SMS
    link = world.sms.requests[-1].json()["text"].rsplit("确认：", 1)[1]
    token = link.rsplit("/ack/", 1)[1]
    world.clock.advance(seconds=30)
    alert = await acknowledge_by_link(world.roster.db, world.alerts, world.signer, token, now=world.clock.now())
    assert alert.state is AlertState.acknowledged and alert.acknowledged_by == "wang"
    with pytest.raises(AckLinkError, match="used already"):
        await acknowledge_by_link(world.roster.db, world.alerts, world.signer, token, now=world.clock.now())

    world.clock.advance(seconds=600)
    await world.run()
    assert len(world.sms.requests) == 3  # the head is never called: the chain stopped
    row = await world.roster.db.fetch_one("SELECT * FROM duty_escalations WHERE alert_id = ?", (alert_id,))
    assert row is not None and row["stopped_by"] == "acknowledged by wang" and row["acked_at"] is not None
    rows = await world.outbox.of_alert(alert_id)
    assert len(rows) == 6 and all(r.sent_at is not None for r in rows)


async def test_alert_one_second_after_hand_over_reaches_the_new_person(world: World) -> None:
    world.clock.advance(timedelta(hours=10, seconds=1))  # 20:00:01 in Guangzhou
    await _raise_red(world)
    await world.run()
    assert world.sms_to() == ["+8613800000002"]  # zhou, the night officer


async def test_forged_and_expired_links_are_refused(world: World) -> None:
    alert_id = await _raise_red(world)
    await world.run()
    token = world.sms.requests[0].json()["text"].rsplit("/ack/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(AckLinkError, match="not valid"):
        await acknowledge_by_link(world.roster.db, world.alerts, world.signer, forged, now=world.clock.now())
    world.clock.advance(timedelta(days=2))
    with pytest.raises(AckLinkError, match="expired"):
        await acknowledge_by_link(world.roster.db, world.alerts, world.signer, token, now=world.clock.now())
    assert (await world.alerts.get(alert_id)).state is AlertState.raised


async def test_a_restart_mid_escalation_sends_nothing_twice_and_loses_nothing(world: World) -> None:
    alert_id = await _raise_red(world)
    await world.run()
    # a new engine and deliverer over the same database, as after a restart
    fresh = Escalator(world.roster, AlertStore(world.roster.db), world.outbox, world.signer,
                      registry_places(Registry(world.roster.db)), clock=world.clock, public_url="https://sw.example.cn")
    fresh_deliverer = Deliverer(world.outbox, world.deliverer.adapters, clock=world.clock)
    await fresh.tick()
    await fresh_deliverer.run_once()
    assert world.sms_to() == ["+8613800000001"]
    world.clock.advance(seconds=120)
    await fresh.tick()
    await fresh_deliverer.run_once()
    assert world.sms_to() == ["+8613800000001", "+8613800000003"]
    assert len(await world.outbox.of_alert(alert_id)) == 4


async def test_a_reopened_alert_and_a_worse_severity_start_the_chain_again(world: World) -> None:
    alert_id = await _raise_red(world)
    await world.run()
    assert world.sms_to() == ["+8613800000001"]
    # cleared by its rule with nobody acknowledging, then the water comes back: the same alert reopens
    world.clock.advance(seconds=30)
    cleared = await world.alerts.apply(AlertTransition(
        seq=2, event=AlertEvent.cleared, rule="culvert-water-level", device_id="CUL-7", severity="red",
        previous_severity="red", at=world.clock.now()))
    assert cleared is not None and cleared.alert.state is AlertState.cleared
    await world.run()
    world.clock.advance(seconds=30)
    again = await _raise_red(world)
    assert again == alert_id
    await world.run()
    assert world.sms_to() == ["+8613800000001", "+8613800000001"]  # a new chain, from the first step
    world.clock.advance(seconds=120)
    await world.run()
    assert world.sms_to()[-1] == "+8613800000003"
