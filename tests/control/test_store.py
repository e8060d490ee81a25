"""The command store on SQLite and TimescaleDB: audit trail, latest wins, cancel, conditional updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from control.errors import CommandError, UnknownCommand
from control.model import (
    Action,
    CommandTarget,
    DeliveryStatus,
    parse_action,
    validate_params,
)
from control.store import CommandStore, StatusUpdate
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database

pytestmark = pytest.mark.services
GROUP = CommandTarget("group", "harbour-road")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CommandStore]:
    async with open_database(DatabaseUrl.parse(database_url)) as db:
        yield await CommandStore.open(db, FakeClock(datetime(2026, 12, 21, 10, 0, tzinfo=UTC)))


async def test_a_request_key_queues_a_command_once(store: CommandStore) -> None:
    first = await store.create(GROUP, Action.set_dim, {"level_pct": 100}, ["LP-1", "LP-2"],
                               requester="rule:flood", reason="red", ttl_s=600, request_key="k-1")
    again = await store.create(GROUP, Action.set_dim, {"level_pct": 100}, ["LP-1", "LP-2"],
                               requester="rule:flood", reason="red", ttl_s=600, request_key="k-1")
    other = await store.create(GROUP, Action.set_dim, {"level_pct": 100}, ["LP-1"],
                               requester="rule:flood", reason="red", ttl_s=600, request_key="k-2")
    assert again == first
    assert other.id != first.id
    assert [d.device_id for d in await store.deliveries(first.id)] == ["LP-1", "LP-2"]  # none doubled
    assert (await store.progress(first.id)).counts == {DeliveryStatus.queued: 1, DeliveryStatus.superseded: 1}


async def test_a_command_fans_out_into_queued_deliveries(store: CommandStore) -> None:
    command = await store.create(GROUP, Action.set_dim, {"level_pct": 40}, ["LP-1", "LP-2", "LP-3"],
                                 requester="alice", reason="road works", ttl_s=600)
    progress = await store.progress(command.id)
    assert progress.command == command
    assert progress.command.expires_at == datetime(2026, 12, 21, 10, 10, tzinfo=UTC)
    assert progress.counts == {DeliveryStatus.queued: 3}
    assert (progress.status, progress.summary) == ("queued", "3 queued")
    deliveries = await store.deliveries(command.id)
    assert [(d.device_id, d.status, d.attempts, d.params) for d in deliveries] == [
        (device, DeliveryStatus.queued, 0, {"level_pct": 40}) for device in ("LP-1", "LP-2", "LP-3")]


async def test_latest_wins_per_device_and_kind(store: CommandStore) -> None:
    clock = store.clock
    assert isinstance(clock, FakeClock)
    old = await store.create(GROUP, Action.set_dim, {"level_pct": 100}, ["LP-1", "LP-2"],
                             requester="scheduler", reason="sunset", ttl_s=900)
    relay = await store.create(CommandTarget("device", "LP-1"), Action.switch, {"on": True}, ["LP-1"],
                               requester="bob", reason="", ttl_s=900)
    clock.advance(seconds=5)
    # LP-1 is already sent (in flight): it is superseded all the same; LP-2 is confirmed and stays so.
    first = {d.device_id: d for d in await store.deliveries(old.id)}
    await store.record([StatusUpdate(first["LP-1"].id, DeliveryStatus.sent, 1, clock.now()),
                        StatusUpdate(first["LP-2"].id, DeliveryStatus.confirmed, 1, clock.now())])
    new = await store.create(CommandTarget("device", "LP-1"), Action.set_dim, {"level_pct": 30}, ["LP-1"],
                             requester="alice", reason="too bright", ttl_s=900)
    after = {d.device_id: d for d in await store.deliveries(old.id)}
    assert after["LP-1"].status is DeliveryStatus.superseded
    assert after["LP-1"].sent_at == datetime(2026, 12, 21, 10, 0, 5, tzinfo=UTC)
    assert after["LP-2"].status is DeliveryStatus.confirmed
    # Another kind (the relay) is not touched; the new one is queued.
    assert [d.status for d in await store.deliveries(relay.id)] == [DeliveryStatus.queued]
    assert [d.status for d in await store.deliveries(new.id)] == [DeliveryStatus.queued]
    assert (await store.progress(old.id)).status == "confirmed"
    assert (await store.progress(old.id)).summary == "1 confirmed, 1 superseded"
    # A late confirmation of the superseded delivery does not change the record.
    await store.record([StatusUpdate(after["LP-1"].id, DeliveryStatus.confirmed, 1, clock.now())])
    assert (await store.deliveries(old.id))[0].status is DeliveryStatus.superseded
    pending = await store.open_deliveries()
    assert [(d.device_id, d.action) for d in pending] == [("LP-1", Action.switch), ("LP-1", Action.set_dim)]
    assert await store.open_deliveries(after_id=pending[0].id) == pending[1:]


async def test_cancel_and_the_audit_trail(store: CommandStore) -> None:
    clock = store.clock
    assert isinstance(clock, FakeClock)
    command = await store.create(GROUP, Action.flash, {"on": True}, ["LP-1", "LP-2"],
                                 requester="duty", reason="flood drill", ttl_s=60)
    first, _ = await store.deliveries(command.id)
    await store.record([StatusUpdate(first.id, DeliveryStatus.sent, 1, clock.now())])
    clock.advance(seconds=2)
    await store.record([StatusUpdate(first.id, DeliveryStatus.sent, 2, clock.now(), "timeout after 5 s"),
                        StatusUpdate(first.id, DeliveryStatus.confirmed, 2, clock.now())])
    assert await store.cancel(command.id) == 1
    assert await store.cancel(command.id) == 0
    rows = {d.device_id: d for d in await store.deliveries(command.id)}
    one = rows["LP-1"]
    assert (one.status, one.attempts, one.error) == (DeliveryStatus.confirmed, 2, "timeout after 5 s")
    assert one.sent_at == datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
    assert one.finished_at == datetime(2026, 12, 21, 10, 0, 2, tzinfo=UTC)
    assert rows["LP-2"].status is DeliveryStatus.cancelled
    progress = await store.progress(command.id)
    assert progress.status == "cancelled" and progress.command.cancelled_at == clock.now()
    assert await store.cancelled_since(clock.now()) == [(command.id, clock.now())]
    assert await store.cancelled_since(datetime(2026, 12, 22, tzinfo=UTC)) == []
    with pytest.raises(UnknownCommand, match="no command with id 999"):
        await store.cancel(999)


async def test_recent_lists_newest_first(store: CommandStore) -> None:
    ids = [(await store.create(GROUP, Action.set_dim, {"level_pct": n}, ["LP-1"], requester=who, reason="",
                               ttl_s=60)).id
           for n, who in ((10, "a"), (20, "b"), (30, "a"))]
    assert [p.command.id for p in await store.recent()] == ids[::-1]
    assert [p.command.id for p in await store.recent(requester="a", limit=1)] == [ids[2]]
    assert [p.command.id for p in await store.recent(open_only=True)] == [ids[2]]  # the others were superseded


def test_actions_and_params_are_checked_at_the_edge() -> None:
    assert validate_params(Action.set_dim, {"level": 55}) == {"level_pct": 55}
    with pytest.raises(CommandError, match=r"set_dim: level_pct: Input should be less than or equal to 100"):
        validate_params(Action.set_dim, {"level_pct": 140})
    with pytest.raises(CommandError, match="switch: on: Field required; colour: unknown parameter"):
        validate_params(Action.switch, {"colour": "red"})
    with pytest.raises(CommandError, match="unknown action 'dimm'"):
        parse_action("dimm")
    assert CommandTarget.parse("site:north") == CommandTarget("site", "north")
    assert CommandTarget.parse("tag:road=ring-2") == CommandTarget("tag", "road=ring-2")
    with pytest.raises(CommandError, match="must be key=value"):
        CommandTarget.parse("tag:ring")


async def test_schedule_assignments(database_url: str) -> None:
    from control.assignments import AssignmentStore, schedule_for
    from device_registry.device import Device, Location, MqttAddress

    async with open_database(DatabaseUrl.parse(database_url)) as db:
        clock = FakeClock(datetime(2026, 12, 21, 10, 0, tzinfo=UTC))
        store = await AssignmentStore.open(db, clock)
        await store.assign("site", "harbour", "night", by="alice")
        await store.assign("group", "pier", "night", by="alice")
        clock.advance(seconds=60)
        again = await store.assign("group", "pier", "full-night", by="bob")  # replaces
        everything = await store.all()
        assert [(a.scope, a.schedule, a.assigned_by) for a in everything] == [
            ("group:pier", "full-night", "bob"), ("site:harbour", "night", "alice")]
        assert everything[0] == again and again.assigned_at == clock.now()

        def lamp(groups: tuple[str, ...], site: str) -> Device:
            return Device(id="LP-1", kind="lamp_controller", profile="p", address=MqttAddress(),
                          location=Location(latitude=0, longitude=0), groups=groups, site=site)

        assert schedule_for(lamp(("market", "pier"), "harbour"), everything) == again  # a group before the site
        assert schedule_for(lamp(("market",), "harbour"), everything) == everything[1]
        assert schedule_for(lamp((), "elsewhere"), everything) is None
        assert await store.unassign("group", "pier") is True
        assert await store.unassign("group", "pier") is False
        assert [a.scope for a in await store.all()] == ["site:harbour"]
