"""The wire is standard Modbus: Debian's mbpoll (libmodbus) reads and writes the profile-driven server."""

from __future__ import annotations

import asyncio
import re
import shutil
import struct

import pytest

from benchmarks.servers import INSTALL_HINT
from device_registry.profile import Profile
from simulators.modbus_server import ModbusSimServer
from tests.fixtures.serial_pair import SerialPair

MBPOLL = shutil.which("mbpoll") or "/usr/bin/mbpoll"


async def mbpoll(*args: str) -> dict[int, str]:
    """Run mbpoll once (``-1``, zero-based ``-0``); return {reference: printed value}."""
    if not shutil.which(MBPOLL):
        pytest.fail(f"mbpoll not found: {INSTALL_HINT}", pytrace=False)
    process = await asyncio.create_subprocess_exec(MBPOLL, "-1", "-0", "-o", "2", *args,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, f"mbpoll {' '.join(args)} failed: {err.decode()}{out.decode()}"
    return {int(ref): value for ref, value in re.findall(r"^\[(\d+)\]:\s+(\S+)", out.decode(), re.MULTILINE)}


@pytest.fixture
async def lamp_server(lamp: Profile) -> ModbusSimServer:
    server = ModbusSimServer({5: lamp})
    server.set_value(5, "supply_voltage_v", 231.4)
    server.set_value(5, "lamp_current_a", 0.412)
    server.set_value(5, "power_w", 94.75)
    server.set_value(5, "energy_kwh", 1234.56)
    server.set_value(5, "controller_temp_c", -12.5)
    server.set_value(5, "relay_on", 1)
    return server


async def test_mbpoll_reads_what_the_profile_predicts_over_tcp(lamp_server: ModbusSimServer) -> None:
    async with lamp_server as server:
        tcp = ("-m", "tcp", "-p", str(server.port), "-a", "5")
        registers = await mbpoll(*tcp, "-t", "3", "-r", "0", "-c", "11", "127.0.0.1")
        power = await mbpoll(*tcp, "-t", "3:float", "-B", "-r", "2", "-c", "1", "127.0.0.1")
        energy = await mbpoll(*tcp, "-t", "3:int", "-B", "-r", "4", "-c", "1", "127.0.0.1")
        coil = await mbpoll(*tcp, "-t", "0", "-r", "0", "-c", "1", "127.0.0.1")
    assert registers[0] == "2314"  # supply_voltage_v 231.4 V at scale 0.1
    assert registers[1] == "412"  # lamp_current_a 0.412 A at scale 0.001
    hi, lo = struct.unpack(">HH", struct.pack(">f", 94.75))
    assert (int(registers[2]), int(registers[3])) == (hi, lo)  # power_w: IEEE 754 f32, high word first
    assert float(power[2]) == 94.75
    assert int(energy[4]) == 123456  # energy_kwh at scale 0.01, u32 high word first
    assert int(registers[10]) == (-125) & 0xFFFF  # controller_temp_c -12.5 °C as i16 at scale 0.1
    assert coil[0] == "1"


async def test_mbpoll_writes_reach_the_profile_values(lamp_server: ModbusSimServer) -> None:
    async with lamp_server as server:
        await mbpoll("-m", "tcp", "-p", str(server.port), "-a", "5", "-t", "4", "-r", "0", "127.0.0.1", "42")
        assert server.get_value(5, "dim_level_pct") == 42
        await mbpoll("-m", "tcp", "-p", str(server.port), "-a", "5", "-t", "4:int", "-B", "-r", "10",
                     "127.0.0.1", "1780000000")
        assert server.get_value(5, "clock_epoch_s") == 1_780_000_000


async def test_mbpoll_reads_rtu_on_a_serial_line(lamp: Profile, serial_pair: SerialPair) -> None:
    server = ModbusSimServer({3: lamp}, kind="rtu", serial_port=serial_pair.server, baudrate=9600)
    server.set_value(3, "supply_voltage_v", 229.9)
    server.set_value(3, "power_w", 61.5)
    async with server:
        rtu = ("-m", "rtu", "-b", "9600", "-P", "none", "-a", "3")
        registers = await mbpoll(*rtu, "-t", "3", "-r", "0", "-c", "4", serial_pair.client)
        power = await mbpoll(*rtu, "-t", "3:float", "-B", "-r", "2", "-c", "1", serial_pair.client)
    assert registers[0] == "2299"
    assert float(power[2]) == 61.5
