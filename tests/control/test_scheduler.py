"""The scheduler on real parts (Modbus lamp controllers, the dispatcher, the database) with time
moved by hand: transitions, re-assert at start and when a lamp is back, tables pushed once a day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from astral import Observer
from astral import sun as astral_sun

from control.assignments import AssignmentStore
from control.modbus_channel import ModbusChannel
from control.model import CommandTarget
from control.scheduler import Scheduler
from control.timeline import table
from simulators.modbus_server import ModbusSimServer
from streetwatch.clock import FakeClock
from tests.control.conftest import SHANGHAI, Rig, lamp_server, modbus_lamp

pytestmark = pytest.mark.services
GUANGZHOU = (23.13, 113.26)
DAY = datetime(2026, 12, 21).date()


def local(hour: int, minute: int = 0, day_offset: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=day_offset), time(hour, minute), SHANGHAI)


def levels(server: ModbusSimServer, units: range) -> list[float]:
    return [server.get_value(u, "dim_level_pct") for u in units]


async def test_lamps_follow_their_schedules(rig: Rig, modbus: ModbusChannel) -> None:
    clock = FakeClock(local(12, 30))
    rig.store.clock = clock
    async with lamp_server(5) as server:
        await rig.add([
            modbus_lamp("LP-1", server.port, 1, group="pier"),
            modbus_lamp("LP-2", server.port, 2, group="pier"),
            modbus_lamp("LP-3", server.port, 3, group="other", site="harbour"),  # follows its site
            modbus_lamp("LP-4", server.port, 4, group="unscheduled", site="elsewhere"),
        ])
        for unit in range(1, 5):
            server.set_value(unit, "dim_level_pct", 77)  # whatever the lamps had before the gateway started
        assignments = await AssignmentStore.open(rig.db)
        await assignments.assign("group", "pier", "night", by="alice")
        await assignments.assign("site", "harbour", "full-night", by="alice")
        dispatcher = rig.dispatcher({"modbus": modbus})
        dispatcher.clock = clock
        async with dispatcher:
            scheduler = Scheduler(dispatcher, assignments, rig.schedules, zone=SHANGHAI, clock=clock,
                                  refresh_s=86_400)
            await scheduler.start()
            assert sorted(scheduler.lamps) == ["LP-1", "LP-2", "LP-3"]
            for progress in await rig.store.recent():
                await dispatcher.wait_for(progress.command.id)
            assert levels(server, range(1, 5)) == [0, 0, 0, 77]  # re-asserted: daytime is off

            observer = Observer(*GUANGZHOU)
            sunset = astral_sun.sunset(observer, DAY, tzinfo=SHANGHAI)
            assert scheduler.next_wake(clock.now()) == sunset  # LP-3's full-night comes first
            clock.advance(sunset - clock.now())
            sent = await scheduler.tick(clock.now())
            assert [(c.target, c.params, c.device_count) for c in sent] == [
                (CommandTarget("site", "harbour"), {"level_pct": 100}, 1)]
            assert sent[0].reason == "schedule full-night: sunset"
            await dispatcher.wait_for(sent[0].id)
            assert levels(server, range(1, 4)) == [0, 0, 100]

            clock.advance(timedelta(minutes=10))
            (on,) = await scheduler.tick(clock.now())
            assert (on.target, on.params, on.device_count, on.requester) == (
                CommandTarget("group", "pier"), {"level_pct": 100}, 2, "scheduler")
            await dispatcher.wait_for(on.id)
            clock.advance(local(23) - clock.now())
            (late,) = await scheduler.tick(clock.now())
            assert late.reason == "schedule night: 23:00"
            await dispatcher.wait_for(late.id)
            assert levels(server, range(1, 4)) == [50, 50, 100]
            assert await scheduler.tick(clock.now()) == []  # nothing more until 01:00

            # LP-1 lost power and came back dark: the schedule is re-asserted.
            server.set_value(1, "dim_level_pct", 0)
            dispatcher.on_device_offline("LP-1")
            dispatcher.on_device_online("LP-1")
            reasserted = await _latest(rig, "re-assert")
            await dispatcher.wait_for(reasserted)
            assert server.get_value(1, "dim_level_pct") == 50

            # An operator's command waiting for LP-2 is not overridden when LP-2 comes back.
            dispatcher.on_device_offline("LP-2")
            manual = await dispatcher.submit(CommandTarget("device", "LP-2"), "set_dim", {"level_pct": 5},
                                             "alice", "film shoot")
            dispatcher.on_device_online("LP-2")
            await dispatcher.wait_for(manual.id)
            assert server.get_value(2, "dim_level_pct") == 5
            later = [p.command for p in await rig.store.recent(limit=50) if p.command.id > manual.id]
            assert not [c for c in later if "re-assert" in c.reason]


async def _latest(rig: Rig, reason_part: str) -> int:
    for progress in await rig.store.recent(limit=10):
        if reason_part in progress.command.reason:
            return progress.command.id
    raise AssertionError(f"no command with {reason_part!r} in its reason")


async def test_tables_are_pushed_once_per_lighting_day(rig: Rig, modbus: ModbusChannel) -> None:
    clock = FakeClock(local(13))
    rig.store.clock = clock
    async with lamp_server(2) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1, latitude=45.8, longitude=126.53),
                       modbus_lamp("LP-2", server.port, 2, latitude=45.8, longitude=126.53)])
        assignments = await AssignmentStore.open(rig.db)
        await assignments.assign("group", "pier", "night", by="alice")
        dispatcher = rig.dispatcher({"modbus": modbus})
        dispatcher.clock = clock
        async with dispatcher:
            scheduler = Scheduler(dispatcher, assignments, rig.schedules, zone=SHANGHAI, clock=clock)
            await scheduler.reload()
            (pushed,) = await scheduler.push_tables(clock.now())
            assert (await dispatcher.wait_for(pushed.id)).summary == "2 confirmed"
            expected = table(rig.schedules.get("night"), DAY, 45.8, 126.53, SHANGHAI)
            count = server.get_registers(1, "holding", 99, 1)[0]
            flat = server.get_registers(1, "holding", 100, 2 * count)
            assert list(zip(flat[::2], flat[1::2], strict=True)) == expected
            assert await scheduler.push_tables(local(23)) == []  # the same lighting day
            assert await scheduler.push_tables(local(2, day_offset=1)) == []  # still the night of the 21st
            (next_day,) = await scheduler.push_tables(local(13, day_offset=1))
            assert next_day.device_count == 2


async def test_midnight_sun_lamps_stay_off_and_the_scheduler_keeps_going(rig: Rig, modbus: ModbusChannel) -> None:
    oslo_noon = datetime(2026, 6, 21, 12, 0, tzinfo=SHANGHAI)
    clock = FakeClock(oslo_noon)
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("TR-1", server.port, 1, latitude=69.65, longitude=18.96)])
        assignments = await AssignmentStore.open(rig.db)
        await assignments.assign("group", "pier", "night", by="alice")
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            scheduler = Scheduler(dispatcher, assignments, rig.schedules, zone=SHANGHAI, clock=clock)
            await scheduler.reload()
            lamp = scheduler.lamps["TR-1"]
            assert lamp.next_at is None and scheduler.level(lamp, clock.now()) == 0
            for _ in range(3):
                clock.advance(timedelta(hours=8))
                assert await scheduler.tick(clock.now()) == []
            assert scheduler.next_wake(clock.now()) == clock.now() + timedelta(seconds=scheduler.refresh_s)
