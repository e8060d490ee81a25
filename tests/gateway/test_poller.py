"""The Modbus poller against real Modbus servers over TCP: isolation, offline/online, one request per bus."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from device_registry.profile import Profile, shipped_profiles
from gateway.composition.runtime import Gateway, RunOptions, running
from gateway.intake.records import GatewayRecords
from simulators.modbus_server import Fault, ModbusSimServer
from streetwatch.config import DatabaseUrl
from streetwatch.database import open_database
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, register

LAMP: Profile = shipped_profiles()["sw-lamp-controller"]


@asynccontextmanager
async def lamp_servers(count: int, **options: object) -> AsyncIterator[list[ModbusSimServer]]:
    """``count`` lamp controllers, each behind its own TCP port (its own bus)."""
    async with AsyncExitStack() as stack:
        servers = []
        for i in range(count):
            server = ModbusSimServer({1: LAMP}, **options)  # type: ignore[arg-type]
            server.set_value(1, "power_w", 90.0 + i)
            server.set_value(1, "supply_voltage_v", 230.0)
            servers.append(await stack.enter_async_context(server))
        yield servers


def largest_gap_s(times: list[float]) -> float:
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


async def test_a_hanging_device_delays_no_other_and_goes_offline_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    async with lamp_servers(5) as servers:
        healthy, hanging = servers[:4], servers[4]
        hanging.set_fault(1, Fault("no_answer"))  # accepts the connection, never answers
        await register(url, [modbus_device(f"LP-{i}", s.port, interval_s=0.2) for i, s in enumerate(servers)])
        # A request times out after 0.6 s, three times the others' interval.
        settings = gateway_settings(tmp_path, url, poll_timeout_s=0.6, offline_after_failures=2)
        options = RunOptions(mqtt=False, max_backoff_s=0.4)
        async with running(Gateway(settings, options=options)) as gateway:
            states = gateway.states
            assert states is not None
            await eventually(lambda: getattr(states.get("LP-4"), "online", None) is False, timeout_s=10,
                             what="the hanging device offline")
            # Meanwhile every other device kept its 0.2 s interval: the hanging one cost only its own bus.
            for server in healthy:
                assert len(server.request_times) >= 10
                # Below the hanging device's 0.6 s timeout: no healthy device ever waited for it (a busy
                # machine stretches a 0.2 s interval by a scheduling delay or two, not by a timeout).
                assert largest_gap_s(list(server.request_times)[2:]) < 0.55
            assert all(getattr(states.get(f"LP-{i}"), "online", None) is True for i in range(4))
            hanging.set_fault(1, None)
            await eventually(lambda: getattr(states.get("LP-4"), "online", None) is True, timeout_s=10,
                             what="the device back online")
            assert gateway.pipeline is not None
            await eventually(lambda: gateway.journal is not None and gateway.journal.backlog == 0)
            assert gateway.recorder is not None
            await gateway.recorder.flush()
    async with open_database(DatabaseUrl.parse(url)) as db:
        events = [(e.online, e.source) for e in reversed(await GatewayRecords(db).device_events("LP-4"))]
        assert events == [(False, "modbus"), (True, "modbus")]  # one outage, one recovery: nothing per poll
        detail = (await GatewayRecords(db).device_events("LP-4"))[-1].detail
        assert "2 polls failed" in detail and "no answer within 0.6 s" in detail


async def test_devices_on_one_converter_are_polled_one_request_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    converter = ModbusSimServer(dict.fromkeys((1, 2, 3), LAMP), kind="rtu-over-tcp")
    for unit in (1, 2, 3):
        converter.set_value(unit, "power_w", 10.0 * unit)
    async with converter:
        await register(url, [modbus_device(f"LP-{u}", converter.port, unit=u, interval_s=0.1,
                                           transport="modbus-rtu-over-tcp") for u in (1, 2, 3)])
        settings = gateway_settings(tmp_path, url)
        async with running(Gateway(settings, options=RunOptions(mqtt=False))) as gateway:
            await eventually(lambda: all(converter.request_count(u) >= 15 for u in (1, 2, 3)),
                             what="each unit polled")
            assert converter.max_in_flight == 1
            assert gateway.poller is not None and gateway.poller.stats.failures == {}
            store = gateway.store
            assert store is not None
            await eventually(lambda: gateway.journal is not None and gateway.journal.backlog == 0)
            latest = {(v.device_id, v.metric): v.value for v in await store.latest()}
    assert [latest[(f"LP-{u}", "power_w")] for u in (1, 2, 3)] == [10.0, 20.0, 30.0]
