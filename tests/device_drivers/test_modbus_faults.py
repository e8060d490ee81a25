"""What field devices do: silence, late replies, drops, power cycles, garbage, refused connections."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time

import pytest

from benchmarks.servers import free_port
from device_drivers.errors import (
    ConnectionFailed,
    DeviceTimeout,
    FramingError,
    ModbusExceptionResponse,
    StaleResponse,
)
from device_drivers.modbus import BusKind, BusPool, BusSettings, Endpoint, ModbusBus
from device_drivers.modbus.driver import read_device
from device_registry.device import ModbusRtuOverTcpAddress, ModbusTcpAddress, MqttAddress
from device_registry.profile import Profile, RegisterTable
from simulators.modbus_server import Fault, ModbusSimServer
from tests.device_drivers.modbus_setup import KINDS, served
from tests.fixtures.serial_pair import SerialPair

INPUT = RegisterTable.input
TIMEOUT_S = 0.3


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> BusKind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serial(kind: BusKind, request: pytest.FixtureRequest) -> SerialPair | None:
    return request.getfixturevalue("serial_pair") if kind == "rtu" else None  # type: ignore[no-any-return]


def load(server: ModbusSimServer, unit: int) -> None:
    server.set_value(unit, "supply_voltage_v", 231.4)  # input 0
    server.set_value(unit, "lamp_current_a", 0.4)  # input 1
    server.set_value(unit, "power_w", 92.0)  # input 2..3


async def test_exception_codes_carry_code_and_meaning(kind: BusKind, serial: SerialPair | None,
                                                      lamp: Profile) -> None:
    async with served(kind, {1: lamp}, serial) as (server, bus):
        for code, meaning in [(1, "illegal function"), (2, "illegal data address"), (3, "illegal data value"),
                              (6, "server device busy"), (11, "gateway target device failed to respond")]:
            server.set_fault(1, Fault("exception", code=code, times=1))
            with pytest.raises(ModbusExceptionResponse) as err:
                await bus.read_registers(1, INPUT, 0, 2)
            assert (err.value.code, err.value.meaning, err.value.function_code) == (code, meaning, 4)
        assert await bus.read_registers(1, INPUT, 0, 1) == [0]


async def test_silence_is_a_timeout_and_the_bus_goes_on(kind: BusKind, serial: SerialPair | None,
                                                        lamp: Profile) -> None:
    async with served(kind, {1: lamp, 2: lamp}, serial) as (server, bus):
        load(server, 2)
        server.set_fault(1, Fault("no_answer"))
        started = time.monotonic()
        with pytest.raises(DeviceTimeout, match=r"no answer within 0\.3 s"):
            await bus.read_registers(1, INPUT, 0, 2)
        assert 0.25 < time.monotonic() - started < 1.0
        assert await bus.read_registers(2, INPUT, 0, 1) == [2314]  # the other device on the bus still answers


@pytest.mark.parametrize("kind", KINDS)
async def test_a_late_reply_is_not_the_answer_to_the_next_request(kind: BusKind, request: pytest.FixtureRequest,
                                                                  lamp: Profile) -> None:
    """The device answers request 1 after the timeout, while request 2 (same shape) is on the wire."""
    serial = request.getfixturevalue("serial_pair") if kind == "rtu" else None
    async with served(kind, {1: lamp}, serial) as (server, bus):
        load(server, 1)
        server.set_fault(1, Fault("delay", delay_s=TIMEOUT_S * 1.5, times=1))
        with pytest.raises(DeviceTimeout):
            await bus.read_registers(1, INPUT, 0, 2)  # [2314, 400], answered late
        # the next answer is slow too, so the late one comes first on the wire
        server.set_fault(1, Fault("delay", delay_s=TIMEOUT_S * 0.6, times=1))
        assert await bus.read_registers(1, INPUT, 2, 2) == [0x42B8, 0]  # power_w 92.0, not the late [2314, 400]
        assert await bus.read_registers(1, INPUT, 0, 2) == [2314, 400]
        assert server.request_count(1) == 3


async def test_without_the_quiet_time_rtu_would_take_the_late_reply(serial_pair: SerialPair,
                                                                    lamp: Profile) -> None:
    """Why the quiet time exists: RTU frames carry no transaction id. A late reply of another length
    is caught as stale; one of the same length would be taken for the answer."""
    settings = BusSettings(timeout_s=TIMEOUT_S, quiet_after_timeout_s=0.0)
    async with served("rtu", {1: lamp}, serial_pair, settings=settings) as (server, bus):
        load(server, 1)
        server.set_fault(1, Fault("delay", delay_s=TIMEOUT_S * 1.5, times=1))
        with pytest.raises(DeviceTimeout):
            await bus.read_registers(1, INPUT, 0, 2)
        server.set_fault(1, Fault("delay", delay_s=TIMEOUT_S * 0.6, times=1))
        with pytest.raises(StaleResponse, match="2 registers, expected 4"):
            await bus.read_registers(1, INPUT, 0, 4)
        await asyncio.sleep(TIMEOUT_S)  # the real answer to that request goes by unclaimed
        server.set_fault(1, Fault("delay", delay_s=TIMEOUT_S * 1.5, times=1))
        with pytest.raises(DeviceTimeout):
            await bus.read_registers(1, INPUT, 0, 2)
        server.set_fault(1, Fault("delay", delay_s=TIMEOUT_S * 0.6, times=1))
        assert await bus.read_registers(1, INPUT, 2, 2) == [2314, 400]  # wrong: the late reply


@pytest.mark.parametrize("kind", ["tcp", "rtu-over-tcp"])
async def test_a_connection_dropped_mid_request_fails_at_once_and_reconnects(kind: BusKind, lamp: Profile) -> None:
    settings = BusSettings(timeout_s=2.0)
    async with served(kind, {1: lamp}, settings=settings) as (server, bus):
        load(server, 1)
        await bus.read_registers(1, INPUT, 0, 1)
        server.set_fault(1, Fault("drop", times=1))
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match="connection lost"):
            await bus.read_registers(1, INPUT, 0, 2)
        assert time.monotonic() - started < 1.0  # not the 2 s timeout
        assert await bus.read_registers(1, INPUT, 0, 2) == [2314, 400]


@pytest.mark.parametrize("kind", ["tcp", "rtu-over-tcp"])
async def test_a_power_cycled_device_is_read_again(kind: BusKind, lamp: Profile) -> None:
    async with served(kind, {1: lamp}) as (server, bus):
        load(server, 1)
        assert (await read_device(bus, 1, lamp)).values["power_w"] == 92.0
        await server.restart()  # every connection closes; the device comes back on the same port
        values = None
        for _ in range(2):  # the first request may still find the old connection closing
            try:
                values = (await read_device(bus, 1, lamp)).values
                break
            except ConnectionFailed:
                continue
        assert values is not None and values["power_w"] == 92.0


async def test_a_device_that_accepts_and_never_answers() -> None:
    async def accept_and_ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # read until the client gives up; never write
        writer.close()

    silent = await asyncio.start_server(accept_and_ignore, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent, ModbusBus(Endpoint("tcp", host="127.0.0.1", port=port), BusSettings(timeout_s=0.2)) as bus:
        for _ in range(2):
            with pytest.raises(DeviceTimeout):
                await bus.read_registers(1, INPUT, 0, 1)


async def test_nothing_listening_is_connection_failed() -> None:
    bus = ModbusBus(Endpoint("tcp", host="127.0.0.1", port=free_port()), BusSettings(timeout_s=0.5))
    async with bus:
        with pytest.raises(ConnectionFailed, match="cannot connect"):
            await bus.read_registers(1, INPUT, 0, 1)
        with pytest.raises(ConnectionFailed):
            await bus.connect()
    rtu = ModbusBus(Endpoint("rtu", serial_port="/dev/does-not-exist"), BusSettings(timeout_s=0.5))
    async with rtu:
        with pytest.raises(ConnectionFailed, match="/dev/does-not-exist"):
            await rtu.read_registers(1, INPUT, 0, 1)


@pytest.mark.parametrize("bus_kind", ["tcp", "rtu-over-tcp"])
async def test_a_refused_connection_leaves_no_garbage_and_the_device_is_read_once_it_listens(
        bus_kind: BusKind, lamp: Profile) -> None:
    # 80,000 devices behind unreachable converters: hundreds of refused connections a second, each of
    # which left its error, traceback and client in a reference cycle of about 9 kB (issue #21).
    port = free_port()
    async with ModbusBus(Endpoint(bus_kind, host="127.0.0.1", port=port), BusSettings(timeout_s=0.5)) as bus:
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                with pytest.raises(ConnectionFailed, match="cannot connect"):
                    await bus.read_registers(1, INPUT, 0, 1)
            assert gc.collect() == 0
        finally:
            gc.enable()
        async with ModbusSimServer({1: lamp}, kind=bus_kind, port=port) as server:
            load(server, 1)
            assert await bus.read_registers(1, INPUT, 0, 1) == [2314]
            assert bus.connected


async def test_garbage_on_the_serial_line_is_a_framing_error(serial_pair: SerialPair, lamp: Profile) -> None:
    async with served("rtu", {1: lamp}, serial_pair) as (server, bus):
        load(server, 1)
        server.set_fault(1, Fault("garbage", times=1))
        with pytest.raises(FramingError, match="no valid frame"):
            await bus.read_registers(1, INPUT, 0, 2)
        assert await bus.read_registers(1, INPUT, 0, 2) == [2314, 400]


async def test_one_request_at_a_time_on_a_shared_line(lamp: Profile) -> None:
    """Eight devices behind one RTU-over-TCP converter, polled concurrently, never overlap on the line."""
    units = dict.fromkeys(range(1, 9), lamp)
    async with served("rtu-over-tcp", units) as (server, bus):
        for unit in units:
            load(server, unit)
            server.set_fault(unit, Fault("delay", delay_s=0.02))
        samples = await asyncio.gather(*(read_device(bus, u, lamp) for u in units))
        gaps = [b - a for a, b in zip(server.request_times, list(server.request_times)[1:], strict=False)]
    assert all(s.values["power_w"] == 92.0 for s in samples)
    assert server.max_in_flight == 1
    assert len(gaps) == 8 * 3 - 1 and min(gaps) >= 0.02  # each waited for the one before it


async def test_independent_tcp_devices_are_read_concurrently(lamp: Profile) -> None:
    servers = [ModbusSimServer({1: lamp}) for _ in range(4)]
    async with BusPool(BusSettings(timeout_s=2.0)) as pool:
        for server in servers:
            await server.__aenter__()
            load(server, 1)
            server.set_fault(1, Fault("delay", delay_s=0.2))
        try:
            buses = [await pool.bus_for(ModbusTcpAddress(host="127.0.0.1", port=s.port)) for s in servers]
            started = time.monotonic()
            samples = await asyncio.gather(*(bus.read_registers(1, INPUT, 0, 1) for bus in buses))
            elapsed = time.monotonic() - started
        finally:
            for server in servers:
                await server.__aexit__(None, None, None)
    assert samples == [[2314]] * 4
    assert elapsed < 0.6  # one after another would take 0.8 s


async def test_pool_shares_one_bus_per_bus_key(lamp: Profile) -> None:
    async with served("rtu-over-tcp", {1: lamp, 2: lamp}) as (server, _), BusPool() as pool:
        a = await pool.bus_for(ModbusRtuOverTcpAddress(host="127.0.0.1", port=server.port, unit=1))
        b = await pool.bus_for(ModbusRtuOverTcpAddress(host="127.0.0.1", port=server.port, unit=2))
        c = await pool.bus_for(ModbusTcpAddress(host="127.0.0.1", port=server.port, unit=1))
        assert a is b and a is not c and len(pool) == 2
        with pytest.raises(TypeError, match="not a Modbus address"):
            await pool.bus_for(MqttAddress())  # type: ignore[arg-type]
        assert a.key == f"rtu-over-tcp://127.0.0.1:{server.port}"
        await a.read_registers(1, INPUT, 0, 1)
        assert a.connected
    assert not a.connected  # leaving the pool closed it


async def test_inter_frame_pause_on_a_slow_serial_line(serial_pair: SerialPair, lamp: Profile) -> None:
    endpoint = Endpoint("rtu", serial_port=serial_pair.client, baudrate=1200)
    assert endpoint.frame_silence_s() == pytest.approx(3.5 * 11 / 1200)  # 32 ms
    assert Endpoint("rtu", serial_port="x", baudrate=115200).frame_silence_s() == 0.00175
    async with ModbusSimServer({1: lamp}, kind="rtu", serial_port=serial_pair.server, baudrate=1200) as server, \
            ModbusBus(endpoint, BusSettings(timeout_s=1.0)) as bus:
        for _ in range(4):
            await bus.read_registers(1, INPUT, 0, 1)
        times = list(server.request_times)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.032


