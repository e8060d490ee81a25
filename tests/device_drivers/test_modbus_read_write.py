"""Reads and verified writes against a real pymodbus server over TCP, RTU over TCP and RTU on a pty pair."""

from __future__ import annotations

import pytest

from device_drivers.errors import EncodeError, ModbusExceptionResponse, VerificationError
from device_drivers.modbus import BusKind
from device_drivers.modbus.codec import set_bits
from device_drivers.modbus.driver import read_device, read_schedule, write_metric, write_schedule
from device_registry.profile import Profile, RegisterTable, check_profile
from simulators.modbus_server import WriteEvent
from streetwatch.clock import FakeClock
from tests.device_drivers.modbus_setup import KINDS, served
from tests.fixtures.serial_pair import SerialPair

LAMP_VALUES = {
    "supply_voltage_v": 231.4, "lamp_current_a": 0.412, "power_w": 94.75, "energy_kwh": 1234.56,
    "power_factor": 0.953, "lamp_running_hours": 70_000, "controller_temp_c": -12.5, "dim_level_pct": 80,
    "clock_epoch_s": 1_780_000_000, "relay_on": 1, "fault_bits": 0b10001,
}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> BusKind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serial(kind: BusKind, request: pytest.FixtureRequest) -> SerialPair | None:
    return request.getfixturevalue("serial_pair") if kind == "rtu" else None  # type: ignore[no-any-return]


async def test_read_device_returns_what_the_profile_predicts(kind: BusKind, serial: SerialPair | None,
                                                             lamp: Profile) -> None:
    clock = FakeClock()
    async with served(kind, {1: lamp, 7: lamp}, serial) as (server, bus):
        for name, value in LAMP_VALUES.items():
            server.set_value(7, name, value)
        sample = await read_device(bus, 7, lamp, clock=clock)
        other = await read_device(bus, 1, lamp, clock=clock)
    assert sample.ts == clock.now()
    assert sample.errors == {}
    for name, value in LAMP_VALUES.items():
        assert sample.values[name] == pytest.approx(value, rel=1e-6), name
    assert set(sample.values) == set(lamp.metric_names())
    assert sample.bitfields == {"fault_bits": 17}
    assert set_bits(lamp.modbus.metrics[-2], sample.bitfields["fault_bits"]) == [  # type: ignore[union-attr]
        "lamp_failure", "door_open"]
    assert other.values["supply_voltage_v"] == 0.0  # units are separate devices
    readings = sample.readings("LP-7")
    assert {r.metric for r in readings} == set(sample.values) and all(r.device_id == "LP-7" for r in readings)
    # three coalesced requests per device (holding, input, coil), not one per metric
    assert server.request_count(7) == 3


async def test_derived_metrics_and_word_order(kind: BusKind, serial: SerialPair | None,
                                              profiles: dict[str, Profile]) -> None:
    gauge, probe = profiles["sw-culvert-gauge-modbus"], profiles["sw-water-quality-probe"]
    async with served(kind, {1: gauge, 2: probe}, serial) as (server, bus):
        server.set_value(1, "mounting_height_mm", 3200)
        server.set_value(1, "distance_mm", 2750)
        server.set_value(1, "battery_v", 3.62)
        server.set_value(2, "ph", 7.25)
        server.set_value(2, "temperature_c", 14.5)
        level = await read_device(bus, 1, gauge)
        quality = await read_device(bus, 2, probe)
        ph_registers = server.get_registers(2, "input", 0, 2)
    assert level.values["water_level_mm"] == 450.0
    assert level.values["battery_v"] == pytest.approx(3.62)
    assert quality.values["ph"] == 7.25 and quality.values["temperature_c"] == 14.5
    assert ph_registers == [0x0000, 0x40E8]  # 7.25 = 0x40E80000, low word first


async def test_write_metric_reads_back(kind: BusKind, serial: SerialPair | None, lamp: Profile) -> None:
    events: list[WriteEvent] = []
    async with served(kind, {3: lamp}, serial) as (server, bus):
        server.on_write(events.append)
        assert await write_metric(bus, 3, lamp, "dim_level_pct", 35) == 35
        assert await write_metric(bus, 3, lamp, "relay_on", 1) == 1
        assert await write_metric(bus, 3, lamp, "clock_epoch_s", 1_780_000_123) == 1_780_000_123
        assert server.get_value(3, "dim_level_pct") == 35
        assert server.get_value(3, "relay_on") == 1
        assert server.get_registers(3, "holding", 10, 2) == [1_780_000_123 >> 16, 1_780_000_123 & 0xFFFF]
    assert [(e.table, e.metrics) for e in events] == [
        (RegisterTable.holding, {"dim_level_pct": 35.0}), (RegisterTable.coil, {"relay_on": 1.0}),
        (RegisterTable.holding, {"clock_epoch_s": 1_780_000_123.0})]


async def test_write_that_the_device_changes_fails_verification(lamp: Profile) -> None:
    async with served("tcp", {1: lamp}) as (server, bus):
        def clamp(event: WriteEvent) -> None:  # this controller's driver tops out at 80 %
            if event.metrics.get("dim_level_pct", 0) > 80:
                server.set_value(event.unit, "dim_level_pct", 80)
        server.on_write(clamp)
        with pytest.raises(VerificationError) as err:
            await write_metric(bus, 1, lamp, "dim_level_pct", 95)
        assert (err.value.written, err.value.read_back) == (95.0, 80.0)
        assert "wrote dim_level_pct=95 but read back 80" in str(err.value)
        await write_metric(bus, 1, lamp, "dim_level_pct", 60)


async def test_writes_the_profile_forbids_never_reach_the_wire(lamp: Profile) -> None:
    async with served("tcp", {1: lamp}) as (server, bus):
        with pytest.raises(EncodeError, match="not writable"):
            await write_metric(bus, 1, lamp, "power_w", 10)
        with pytest.raises(EncodeError, match=r"outside 0\.\.100"):
            await write_metric(bus, 1, lamp, "dim_level_pct", 120)
        with pytest.raises(EncodeError, match="no Modbus metric named 'nope'"):
            await write_metric(bus, 1, lamp, "nope", 1)
        assert server.request_count(1) == 0


async def test_a_write_the_device_refuses_is_its_exception(lamp: Profile) -> None:
    # a profile that thinks power_w is writable, on a device that says otherwise
    data = lamp.model_dump(mode="json")
    data["modbus"]["metrics"] = [dict(m, writable=True) if m["name"] == "supply_voltage_v" else m
                                 for m in data["modbus"]["metrics"]]
    data["modbus"]["metrics"] = [dict(m, table="holding", address=50) if m["name"] == "supply_voltage_v" else m
                                 for m in data["modbus"]["metrics"]]
    wrong, problems = check_profile(data)
    assert wrong is not None, problems
    async with served("tcp", {1: lamp}, strict_addresses=True) as (_, bus):
        with pytest.raises(ModbusExceptionResponse) as err:
            await write_metric(bus, 1, wrong, "supply_voltage_v", 230)
    assert err.value.code == 2 and err.value.meaning == "illegal data address"


async def test_schedule_round_trip(kind: BusKind, serial: SerialPair | None, lamp: Profile) -> None:
    async with served(kind, {1: lamp}, serial) as (server, bus):
        await write_schedule(bus, 1, lamp, [(1380, 40), (1110, 100), (330, 0)])
        assert await read_schedule(bus, 1, lamp) == [(330, 0), (1110, 100), (1380, 40)]
        assert server.get_registers(1, "holding", 99, 7) == [3, 330, 0, 1110, 100, 1380, 40]
        await write_schedule(bus, 1, lamp, [])
        assert await read_schedule(bus, 1, lamp) == []
        assert server.get_registers(1, "holding", 99, 3) == [0, 0, 0]


@pytest.mark.parametrize(("slots", "match"), [
    ([(1440, 10)], "minute of day 1440"),
    ([(60, 101)], "dim level 101"),
    ([(60, 10), (60, 20)], "same minute"),
    ([(i, 10) for i in range(9)], "holds 8"),
])
async def test_bad_schedules_are_refused_before_writing(lamp: Profile, slots: list[tuple[int, int]],
                                                        match: str) -> None:
    async with served("tcp", {1: lamp}) as (server, bus):
        with pytest.raises(EncodeError, match=match):
            await write_schedule(bus, 1, lamp, slots)
        assert server.request_count(1) == 0


async def test_gaps_a_device_rejects(lamp: Profile) -> None:
    """A strict device refuses a read that spans unmapped registers; max_gap = 0 reads around them."""
    data = lamp.model_dump(mode="json")
    async with served("tcp", {1: lamp}, strict_addresses=True) as (_, bus):
        sample = await read_device(bus, 1, lamp)  # holding 2..9 is a gap: that block is refused
        assert set(sample.errors) == {"dim_level_pct", "flash_mode", "clock_epoch_s"}
        assert "illegal data address" in sample.errors["dim_level_pct"]
        assert "supply_voltage_v" in sample.values
        data["modbus"]["max_gap"] = 0
        careful, _ = check_profile(data)
        assert careful is not None
        sample = await read_device(bus, 1, careful)
        assert sample.errors == {} and "clock_epoch_s" in sample.values


async def test_a_device_that_refuses_everything_raises(lamp: Profile) -> None:
    from simulators.modbus_server import Fault

    async with served("tcp", {1: lamp}) as (server, bus):
        server.set_fault(1, Fault("exception", code=4))
        with pytest.raises(ModbusExceptionResponse, match=r"exception 4 \(server device failure\)"):
            await read_device(bus, 1, lamp)


async def test_multiple_coils_and_discrete_inputs(kind: BusKind, serial: SerialPair | None, lamp: Profile) -> None:
    async with served(kind, {1: lamp}, serial) as (server, bus):
        await bus.write_coils(1, 0, [True, False, True])  # function 15
        assert server.get_registers(1, "coil", 0, 3) == [1, 0, 1]
        assert await bus.read_bits(1, RegisterTable.coil, 0, 3) == [True, False, True]
        server.set_registers(1, "discrete", 5, [1, 1, 0, 1, 0, 0, 0, 0, 1])
        assert await bus.read_bits(1, RegisterTable.discrete, 5, 9) == [True, True, False, True] + [False] * 4 + [True]
        await bus.write_registers(1, 20, [1, 2, 3])  # function 16
        assert await bus.read_registers(1, RegisterTable.holding, 20, 3) == [1, 2, 3]


async def test_a_relay_that_does_not_switch_fails_verification(lamp: Profile) -> None:
    async with served("tcp", {1: lamp}) as (server, bus):
        def stuck(event: WriteEvent) -> None:
            if "relay_on" in event.metrics:
                server.set_value(event.unit, "relay_on", 0)
        server.on_write(stuck)
        with pytest.raises(VerificationError, match="wrote relay_on=1 but read back 0"):
            await write_metric(bus, 1, lamp, "relay_on", 1)
