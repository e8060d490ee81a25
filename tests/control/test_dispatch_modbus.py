"""Commands to lamp controllers over real Modbus TCP: confirmation, retries, expiry, latest wins,
offline and back, fan-out, cancel, schedule tables."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from benchmarks.servers import PostgresServer
from control.channel import DeliveryJob
from control.errors import CommandError
from control.modbus_channel import ModbusChannel
from control.model import CommandTarget, DeliveryStatus
from control.timeline import Place, lighting_day, table
from simulators.modbus_server import Fault, ModbusSimServer, WriteEvent
from tests.control.conftest import FAST, SHANGHAI, Rig, lamp_server, modbus_lamp, open_rig

pytestmark = pytest.mark.services
LP1 = CommandTarget("device", "LP-1")
PIER = CommandTarget("group", "pier")


def dim_writes(server: ModbusSimServer) -> list[tuple[int, float]]:
    """(unit, level) of every accepted write of the dim level, in order."""
    seen: list[tuple[int, float]] = []

    def hook(event: WriteEvent) -> None:
        if "dim_level_pct" in event.metrics:
            seen.append((event.unit, event.metrics["dim_level_pct"]))

    server.on_write(hook)
    return seen


async def test_dim_is_written_read_back_and_confirmed(database_url: str, modbus: ModbusChannel) -> None:
    async with open_rig(database_url) as rig, lamp_server(2) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1), modbus_lamp("LP-2", server.port, 2)])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            command = await dispatcher.submit(LP1, "set_dim", {"level_pct": 35}, "alice", "road works")
            progress = await dispatcher.wait_for(command.id)
        assert (progress.status, progress.summary) == ("confirmed", "1 confirmed")
        assert server.get_value(1, "dim_level_pct") == 35
        assert server.get_value(2, "dim_level_pct") == 0  # only the target
        (delivery,) = await rig.store.deliveries(command.id)
        assert (delivery.status, delivery.attempts, delivery.error) == (DeliveryStatus.confirmed, 1, None)
        assert delivery.sent_at is not None and delivery.finished_at is not None
        assert delivery.sent_at <= delivery.finished_at
        assert (command.requester, command.reason) == ("alice", "road works")


async def test_retries_until_the_device_answers(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        server.set_fault(1, Fault("no_answer", times=2))
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            command = await dispatcher.submit(LP1, "switch", {"on": True}, "bob", "")
            progress = await dispatcher.wait_for(command.id)
        (delivery,) = await rig.store.deliveries(command.id)
        assert progress.status == "confirmed"
        assert delivery.attempts == 3
        assert delivery.error is not None and "no answer within 0.3 s" in delivery.error  # the last failure
        assert server.get_value(1, "relay_on") == 1


async def test_expires_when_the_device_never_answers(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        server.set_fault(1, Fault("no_answer"))
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            command = await dispatcher.submit(LP1, "set_dim", {"level_pct": 80}, "bob", "", ttl_s=1.2)
            progress = await dispatcher.wait_for(command.id)
        (delivery,) = await rig.store.deliveries(command.id)
        assert progress.status == "expired"
        assert delivery.status is DeliveryStatus.expired
        assert delivery.attempts >= 2
        assert delivery.error is not None and delivery.error.startswith("not confirmed within its time to live")
        assert delivery.finished_at is not None and delivery.finished_at >= command.expires_at


async def test_a_refusal_is_final(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        server.set_fault(1, Fault("exception", code=3))  # illegal data value
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            command = await dispatcher.submit(LP1, "set_dim", {"level_pct": 80}, "bob", "")
            progress = await dispatcher.wait_for(command.id)
        (delivery,) = await rig.store.deliveries(command.id)
        assert (progress.status, delivery.attempts) == ("failed", 1)
        assert delivery.error is not None and "illegal data value" in delivery.error


async def test_latest_wins_while_an_attempt_is_on_the_way(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        writes = dim_writes(server)
        server.set_fault(1, Fault("delay", delay_s=0.15, times=4))  # a slow controller
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            levels = [100, 70, 40, 20]
            commands = []
            for level in levels:
                commands.append(await dispatcher.submit(LP1, "set_dim", {"level_pct": level}, "alice", ""))
                await asyncio.sleep(0.02)
            results = [await dispatcher.wait_for(c.id) for c in commands]
        assert server.get_value(1, "dim_level_pct") == 20
        assert results[-1].status == "confirmed"
        # Whatever got written, it was written in order: never an older level after a newer one.
        written = [level for _, level in writes]
        assert written == sorted(written, key=levels.index) and written[-1] == 20
        assert {r.status for r in results[:-1]} <= {"superseded", "confirmed"}
        assert any(r.status == "superseded" for r in results[:-1])


async def test_offline_device_gets_only_the_latest_when_it_is_back(rig: Rig, modbus: ModbusChannel) -> None:
    server = lamp_server(1)
    async with server:
        port = server.port
    await rig.add([modbus_lamp("LP-1", port, 1)])
    async with rig.dispatcher({"modbus": modbus}) as dispatcher:
        dispatcher.on_device_offline("LP-1")
        first = await dispatcher.submit(LP1, "set_dim", {"level_pct": 100}, "scheduler", "sunset")
        second = await dispatcher.submit(LP1, "set_dim", {"level_pct": 30}, "alice", "quiet street")
        await asyncio.sleep(0.3)
        waiting = await rig.store.deliveries(second.id)
        assert [d.status for d in waiting] == [DeliveryStatus.queued]  # no attempts while offline
        assert waiting[0].attempts == 0
        restarted = lamp_server(1, port)  # the controller is back, on the same address
        writes = dim_writes(restarted)
        async with restarted:
            dispatcher.on_device_online("LP-1")
            progress = await dispatcher.wait_for(second.id)
        assert progress.status == "confirmed"
        assert (await rig.store.progress(first.id)).status == "superseded"
        assert writes == [(1, 30)]


async def test_offline_device_expires_without_attempts(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            dispatcher.on_device_offline("LP-1")
            command = await dispatcher.submit(LP1, "set_dim", {"level_pct": 50}, "alice", "", ttl_s=0.5)
            progress = await dispatcher.wait_for(command.id)
        assert progress.status == "expired"
        assert server.request_count(1) == 0
        (delivery,) = await rig.store.deliveries(command.id)
        assert delivery.attempts == 0


async def test_fan_out_over_two_buses_with_bounded_concurrency(rig: Rig, modbus: ModbusChannel) -> None:
    in_flight = peak = 0

    class Counting:
        async def deliver(self, job: DeliveryJob) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await modbus.deliver(job)
            finally:
                in_flight -= 1

        def release(self, delivery_id: int) -> None:
            modbus.release(delivery_id)

    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(lamp_server(6)) for _ in range(6)]
        lamps = [modbus_lamp(f"B{b}-{u}", server.port, u) for b, server in enumerate(servers) for u in range(1, 6)]
        lamps.append(modbus_lamp("OTHER", servers[0].port, 6, group="elsewhere"))
        await rig.add(lamps)
        settings = FAST.model_copy(update={"fanout_concurrency": 4})
        async with rig.dispatcher({"modbus": Counting()}, settings) as dispatcher:
            command = await dispatcher.submit(PIER, "set_dim", {"level_pct": 45}, "alice", "event")
            progress = await dispatcher.wait_for(command.id)
        assert (progress.status, progress.command.device_count) == ("confirmed", 30)
        assert all(server.get_value(u, "dim_level_pct") == 45 for server in servers for u in range(1, 6))
        assert peak == 4  # six buses, four at a time
        assert all(server.max_in_flight == 1 for server in servers)  # one request at a time per bus


async def test_cancel_from_another_process(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(2) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1), modbus_lamp("LP-2", server.port, 2)])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            for device in ("LP-1", "LP-2"):
                dispatcher.on_device_offline(device)
            command = await dispatcher.submit(PIER, "flash", {"on": True}, "duty", "drill")
            assert await rig.store.cancel(command.id) == 2  # as `streetwatch command cancel` does
            progress = await dispatcher.wait_for(command.id)
            assert dispatcher.pending_kinds("LP-1") == set()
        assert progress.summary == "2 cancelled"


async def test_schedule_table_is_pushed_and_cleared(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1, latitude=45.8, longitude=126.53)])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            pushed = await dispatcher.submit(LP1, "set_schedule", {"schedule": "night"}, "scheduler", "assigned")
            assert (await dispatcher.wait_for(pushed.id)).status == "confirmed"
            night = rig.schedules.get("night")
            place = Place(45.8, 126.53, SHANGHAI)
            expected = table(night, lighting_day(night, datetime.now(UTC), place), 45.8, 126.53, SHANGHAI)
            count = server.get_registers(1, "holding", 99, 1)[0]
            flat = server.get_registers(1, "holding", 100, 2 * count)
            assert [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)] == expected
            cleared = await dispatcher.submit(LP1, "clear_schedule", {}, "alice", "manual")
            assert (await dispatcher.wait_for(cleared.id)).status == "confirmed"
        assert server.get_registers(1, "holding", 99, 1) == [0]


async def test_clock_sync_and_bad_commands(rig: Rig, modbus: ModbusChannel) -> None:
    async with lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            synced = await dispatcher.submit(LP1, "sync_clock", {}, "gateway", "start")
            assert (await dispatcher.wait_for(synced.id)).status == "confirmed"
            assert abs(server.get_value(1, "clock_epoch_s") - datetime.now(UTC).timestamp()) < 5
            with pytest.raises(CommandError, match="matches no device"):
                await dispatcher.submit(CommandTarget("group", "nowhere"), "set_dim", {"level_pct": 1}, "a", "")
            with pytest.raises(CommandError, match="less than or equal to 100"):
                await dispatcher.submit(LP1, "set_dim", {"level_pct": 101}, "a", "")


async def test_statuses_wait_out_a_database_outage(fresh_pg_url: str, postgres_server: PostgresServer,
                                                   modbus: ModbusChannel, caplog: pytest.LogCaptureFixture) -> None:
    async with open_rig(fresh_pg_url) as rig, lamp_server(1) as server:
        await rig.add([modbus_lamp("LP-1", server.port, 1)])
        async with rig.dispatcher({"modbus": modbus}) as dispatcher:
            dispatcher.on_device_offline("LP-1")
            command = await dispatcher.submit(LP1, "set_dim", {"level_pct": 15}, "alice", "")
            postgres_server.stop()
            try:
                dispatcher.on_device_online("LP-1")  # delivered while the database is away
                for _ in range(100):
                    if server.get_value(1, "dim_level_pct") == 15:
                        break
                    await asyncio.sleep(0.02)
                assert server.get_value(1, "dim_level_pct") == 15
                await asyncio.sleep(0.5)  # the pickup loop meets the outage too, and goes on
            finally:
                postgres_server.start()
            progress = await dispatcher.wait_for(command.id)
        assert progress.status == "confirmed"
        assert "cannot record delivery statuses" in caplog.text
        assert "after the database came back" in caplog.text
