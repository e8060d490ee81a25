"""One owner per Modbus bus: the poller and the command dispatcher share the gateway's one connection
to a converter that accepts a single TCP connection, as many serial-to-Ethernet converters do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from control import CommandTarget
from device_registry.profile import shipped_profiles
from gateway.composition.runtime import Gateway, GatewayContext, RunOptions, ServiceSpec, running
from gateway.composition.services import ControlService, open_control
from simulators.modbus_server import ModbusSimServer
from streetwatch.config import ControlSettings
from tests.fixtures.converter import SingleConnectionConverter
from tests.gateway.conftest import eventually, gateway_settings, modbus_device, register

pytestmark = pytest.mark.services  # the control service's MQTT channel wants a broker
UNITS = range(1, 11)
COMMANDS_PER_UNIT = 10
LAMP = shipped_profiles()["sw-lamp-controller"]


def control_spec(holder: list[ControlService]) -> ServiceSpec:
    @asynccontextmanager
    async def control(ctx: GatewayContext) -> AsyncIterator[ControlService]:
        async with open_control(ctx, schedules=False) as service:
            holder.append(service)
            yield service

    return ServiceSpec("control", control)


async def test_polls_and_100_commands_share_the_one_connection_a_converter_allows(
        tmp_path: Path, mqtt_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'sw.db'}"
    units = ModbusSimServer(dict.fromkeys(UNITS, LAMP), kind="rtu-over-tcp")
    for unit in UNITS:
        units.set_value(unit, "supply_voltage_v", 230.0)
    async with units, SingleConnectionConverter(upstream_port=units.port) as converter:
        # Every unit due every 50 ms: more than the line carries, so the poller keeps it busy all the time.
        await register(url, [modbus_device(f"LP-{u}", converter.port, unit=u, interval_s=0.05,
                                           transport="modbus-rtu-over-tcp") for u in UNITS])
        settings = gateway_settings(tmp_path, url, mqtt_url, poll_timeout_s=1.0).model_copy(update={
            "control": ControlSettings(retry_initial_s=0.1, retry_max_s=0.5, pickup_interval_s=0.1)})
        holder: list[ControlService] = []
        gateway = Gateway(settings, services=[control_spec(holder)], options=RunOptions(mqtt=False))
        async with running(gateway):
            (control,) = holder
            await eventually(lambda: all(units.request_count(u) >= 3 for u in UNITS), what="every unit polled")
            polls_before = gateway.poller.stats.polls if gateway.poller is not None else 0

            async def dim_one_lamp(unit: int) -> list[str]:
                statuses = []
                for n in range(COMMANDS_PER_UNIT):
                    level = 10 + 7 * n + unit
                    command = await control.dispatcher.submit(CommandTarget("device", f"LP-{unit}"), "set_dim",
                                                              {"level_pct": level}, "test", "shared bus")
                    progress = await asyncio.wait_for(control.dispatcher.wait_for(command.id), timeout=30)
                    statuses.append(progress.status)
                    assert units.get_value(unit, "dim_level_pct") == level
                return statuses

            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(dim_one_lamp(u), name=f"dim LP-{u}") for u in UNITS]
            poller = gateway.poller
            assert poller is not None
            statuses = [status for task in tasks for status in task.result()]
            assert statuses == ["confirmed"] * (len(UNITS) * COMMANDS_PER_UNIT)
            assert poller.stats.polls - polls_before >= 50  # polling went on beside the commands
            assert poller.stats.failures == {}  # not one poll failed
            assert (converter.accepted, converter.refused) == (1, 0)  # one connection, never a second
            states = gateway.states
            assert states is not None
            assert all(getattr(states.get(f"LP-{u}"), "online", None) is True for u in UNITS)
