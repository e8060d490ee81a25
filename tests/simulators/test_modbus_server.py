"""The profile-driven Modbus server, seen from a plain pymodbus client."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from device_registry.profile import Profile, shipped_profiles
from simulators.modbus_server import Fault, ModbusSimServer, WriteEvent


@pytest.fixture(scope="module")
def lamp() -> Profile:
    return shipped_profiles()["sw-lamp-controller"]


async def test_values_go_in_through_the_codec_and_come_out_on_the_wire(lamp: Profile) -> None:
    server = ModbusSimServer({1: lamp, 2: lamp})
    server.set_value(1, "supply_voltage_v", 230.0)
    server.set_value(1, "power_w", 1.5)  # 0x3FC00000
    assert server.get_registers(1, "input", 0, 4) == [2300, 0, 0x3FC0, 0]
    assert server.get_value(1, "power_w") == 1.5
    assert server.get_value(2, "power_w") == 0.0
    with pytest.raises(KeyError, match="no Modbus metric 'nope'"):
        server.set_value(1, "nope", 1)
    with pytest.raises(KeyError, match="no unit 9"):
        server.get_value(9, "power_w")
    async with server, AsyncModbusTcpClient("127.0.0.1", port=server.port) as client:
        assert server.port > 0  # port=0 bound a free one
        response = await client.read_input_registers(0, count=4, device_id=1)
        assert response.registers == [2300, 0, 0x3FC0, 0]
        response = await client.read_input_registers(0, count=1, device_id=2)
        assert response.registers == [0]


async def test_writes_change_the_image_and_call_hooks(lamp: Profile) -> None:
    events: list[WriteEvent] = []
    server = ModbusSimServer({1: lamp})
    server.on_write(events.append)
    async with server, AsyncModbusTcpClient("127.0.0.1", port=server.port) as client:
        assert not (await client.write_register(0, 70, device_id=1)).isError()
        assert not (await client.write_coil(0, True, device_id=1)).isError()
        gap_write = await client.write_register(2, 5, device_id=1)  # no metric maps holding 2
        two = await client.write_registers(0, [1, 2], device_id=1)  # dim_level_pct and flash_mode at once
    assert server.get_value(1, "dim_level_pct") == 1 and server.get_value(1, "flash_mode") == 2
    assert server.get_value(1, "relay_on") == 1.0
    assert not gap_write.isError()  # unmapped registers are accepted unless strict_addresses
    assert not two.isError()
    assert [e.metrics for e in events] == [{"dim_level_pct": 70.0}, {"relay_on": 1.0}, {},
                                          {"dim_level_pct": 1.0, "flash_mode": 2.0}]


async def test_strict_addresses_and_read_only_metrics(profiles_gauge: Profile) -> None:
    server = ModbusSimServer({1: profiles_gauge}, strict_addresses=True)
    async with server, AsyncModbusTcpClient("127.0.0.1", port=server.port) as client:
        gap = await client.read_input_registers(0, count=5, device_id=1)  # the gauge maps input 0..2
        ok = await client.read_input_registers(0, count=3, device_id=1)
        outside = await client.write_register(7, 1, device_id=1)
    assert gap.isError() and gap.exception_code == 2
    assert not ok.isError()
    assert outside.isError() and outside.exception_code == 2


@pytest.fixture
def profiles_gauge() -> Profile:
    return shipped_profiles()["sw-culvert-gauge-modbus"]


async def test_faults_last_as_long_as_asked(lamp: Profile) -> None:
    server = ModbusSimServer({1: lamp})
    async with server, AsyncModbusTcpClient("127.0.0.1", port=server.port, retries=0, timeout=0.2) as client:
        server.set_fault(1, Fault("exception", code=6, times=2))
        first = await client.read_input_registers(0, count=1, device_id=1)
        second = await client.read_input_registers(0, count=1, device_id=1)
        third = await client.read_input_registers(0, count=1, device_id=1)
        unknown = await client.read_input_registers(0, count=1, device_id=42)
    assert (first.exception_code, second.exception_code) == (6, 6)
    assert not third.isError()
    assert unknown.isError() and unknown.exception_code == 11  # a TCP gateway with no such unit
    assert server.request_count(1) == 3


async def test_a_delayed_answer_keeps_its_own_transaction_id(lamp: Profile) -> None:
    """pymodbus' own handler would stamp a late answer with the newest request's id; ours does not."""
    server = ModbusSimServer({1: lamp})
    server.set_value(1, "supply_voltage_v", 100.0)
    seen: list[int] = []

    def trace(sending: bool, data: bytes) -> bytes:
        if not sending and len(data) >= 2:
            seen.append(int.from_bytes(data[:2], "big"))
        return data

    async with server, AsyncModbusTcpClient("127.0.0.1", port=server.port, retries=0, timeout=0.2,
                                            trace_packet=trace) as client:
        server.set_fault(1, Fault("delay", delay_s=0.3, times=1))
        with pytest.raises(Exception):  # noqa: B017,PT011 - pymodbus' own timeout error
            await client.read_input_registers(0, count=1, device_id=1)
        server.set_fault(1, Fault("delay", delay_s=0.15, times=1))
        answer = await client.read_input_registers(0, count=1, device_id=1)
        await asyncio.sleep(0.05)
    assert answer.registers == [1000]
    assert seen[:2] == [1, 2]  # the late answer to request 1 came first and said so


async def test_restart_keeps_port_and_image(lamp: Profile) -> None:
    server = ModbusSimServer({1: lamp})
    server.set_value(1, "dim_level_pct", 33)
    async with server:
        port = server.port
        await server.restart()
        assert server.port == port
        async with AsyncModbusTcpClient("127.0.0.1", port=port) as client:
            assert (await client.read_holding_registers(0, count=1, device_id=1)).registers == [33]


def test_an_rtu_server_needs_a_serial_port(lamp: Profile) -> None:
    with pytest.raises(ValueError, match="serial_port"):
        ModbusSimServer({1: lamp}, kind="rtu")
    mqtt = shipped_profiles()["sw-culvert-gauge-mqtt"]
    with pytest.raises(ValueError, match="no \\[modbus\\] section"):
        ModbusSimServer({1: mqtt})
