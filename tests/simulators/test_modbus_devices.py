"""Simulated Modbus devices, read and written over real sockets and a socat serial line by the
Modbus driver (from the addresses in the registration) and by a plain pymodbus client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pymodbus.client import AsyncModbusTcpClient

from device_drivers.errors import ConnectionFailed, DeviceTimeout, ModbusExceptionResponse
from device_drivers.modbus import BusSettings, Endpoint, ModbusBus, read_device, write_metric, write_schedule
from device_registry.device import Device
from device_registry.profile import Profile, shipped_profiles
from simulators.faults import FaultKind, FaultSpec
from simulators.fleet import Fleet
from simulators.rain import Rainfall
from simulators.scenario import GaugeTransport, LampTransport, ProbeTransport, Scenario
from streetwatch.clock import FakeClock

PROFILES: dict[str, Profile] = shipped_profiles()
T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 20:00 in Guangzhou


@asynccontextmanager
async def bus_for(device: Device, timeout_s: float = 0.5) -> AsyncIterator[ModbusBus]:
    async with ModbusBus(Endpoint.of(device.address), BusSettings(timeout_s=timeout_s)) as bus:  # type: ignore[arg-type]
        yield bus


def by_id(fleet: Fleet) -> dict[str, Device]:
    return {d.id: d for d in fleet.registered}


async def read(fleet: Fleet, device_id: str) -> dict[str, float]:
    device = by_id(fleet)[device_id]
    async with bus_for(device) as bus:
        sample = await read_device(bus, device.address.unit, PROFILES[device.profile])  # type: ignore[union-attr]
    return dict(sample.values)


async def test_dim_writes_change_power_and_relay_off_stops_it() -> None:
    clock = FakeClock(T0)
    async with Fleet(Scenario(lamps=3), clock=clock) as fleet:
        lamp = by_id(fleet)["LP-00001"]
        unit = lamp.address.unit  # type: ignore[union-attr]
        profile = PROFILES["sw-lamp-controller"]
        async with bus_for(lamp) as bus:
            assert await write_metric(bus, unit, profile, "dim_level_pct", 20) == 20
            clock.advance(seconds=1)
            low = (await read_device(bus, unit, profile)).values
            assert await write_metric(bus, unit, profile, "dim_level_pct", 100) == 100
            clock.advance(seconds=1)
            high = (await read_device(bus, unit, profile)).values
            assert await write_metric(bus, unit, profile, "relay_on", 0) == 0
            clock.advance(seconds=1)
            off = (await read_device(bus, unit, profile)).values
    rated = 150.0  # a main-road lamp
    assert low["power_w"] == pytest.approx(1.2 + 0.2 * rated, rel=0.05)
    assert high["power_w"] == pytest.approx(1.2 + rated, rel=0.05)
    assert high["lamp_current_a"] == pytest.approx(
        high["power_w"] / (high["supply_voltage_v"] * high["power_factor"]), abs=0.002)
    assert (off["power_w"], off["lamp_current_a"], off["relay_on"]) == (0, 0, 0)
    assert high["energy_kwh"] >= low["energy_kwh"]


async def test_energy_counter_integrates_between_polls() -> None:
    clock = FakeClock(T0)
    async with Fleet(Scenario(lamps=1), clock=clock, lamp_initial_dim_pct=100) as fleet:
        before = await read(fleet, "LP-00001")
        clock.advance(timedelta(hours=2))
        after = await read(fleet, "LP-00001")
    assert after["energy_kwh"] - before["energy_kwh"] == pytest.approx(2 * 151.2 / 1000, abs=0.011)
    assert after["lamp_running_hours"] - before["lamp_running_hours"] in (1, 2, 3)


async def test_a_refused_value_is_exception_3_and_leaves_the_register_alone() -> None:
    async with Fleet(Scenario(lamps=2), clock=FakeClock(T0)) as fleet:
        lamp = by_id(fleet)["LP-00002"]
        address = lamp.address
        async with AsyncModbusTcpClient(address.host, port=address.port) as client:  # type: ignore[union-attr]
            refused = await client.write_register(0, 150, device_id=address.unit)  # type: ignore[union-attr]
            dim = await client.read_holding_registers(0, count=1, device_id=address.unit)  # type: ignore[union-attr]
            accepted = await client.write_register(0, 35, device_id=address.unit)  # type: ignore[union-attr]
            dim_after = await client.read_holding_registers(0, count=1, device_id=address.unit)  # type: ignore[union-attr]
        assert refused.isError() and refused.exception_code == 3
        assert dim.registers == [60] and not accepted.isError() and dim_after.registers == [35]
        assert fleet.servers[0].refused_writes == 1
        assert fleet.lamps["LP-00002"].controller.dim_level_pct == 35


async def test_schedule_written_by_the_driver_runs_on_the_controller() -> None:
    clock = FakeClock(T0)
    async with Fleet(Scenario(lamps=1), clock=clock) as fleet:
        lamp = by_id(fleet)["LP-00001"]
        profile = PROFILES["sw-lamp-controller"]
        async with bus_for(lamp) as bus:
            await write_metric(bus, 1, profile, "clock_epoch_s", T0.timestamp())
            await write_schedule(bus, 1, profile, [(18 * 60, 100), (23 * 60, 40), (6 * 60, 0)])
            at_20h = (await read_device(bus, 1, profile)).values
            clock.advance(timedelta(hours=3, minutes=5))
            at_23h = (await read_device(bus, 1, profile)).values
    assert at_20h["dim_level_pct"] == 100 and at_23h["dim_level_pct"] == 40
    assert at_23h["power_w"] == pytest.approx(1.2 + 0.4 * 150, rel=0.05)


async def test_comms_faults_follow_the_scenario_windows() -> None:
    clock = FakeClock(T0)
    faults = FaultSpec.parse_many("no_answer:1@10s+20s,exception:1,delay:1,drop:1")
    async with Fleet(Scenario(lamps=5, faults=faults), clock=clock) as fleet:
        hit = {kind: next(d.id for d in fleet.plan.devices if d.fault(kind)) for kind in
               (FaultKind.no_answer, FaultKind.exception, FaultKind.delay, FaultKind.drop)}
        fleet.servers[0].delay_s = 0.3
        healthy = next(d.id for d in fleet.plan.devices if not d.faults)
        assert "power_w" in await read(fleet, hit[FaultKind.no_answer])  # before its window
        clock.advance(seconds=15)
        with pytest.raises(DeviceTimeout):
            await read(fleet, hit[FaultKind.no_answer])
        clock.advance(seconds=20)
        assert "power_w" in await read(fleet, hit[FaultKind.no_answer])  # after it
        with pytest.raises(ModbusExceptionResponse, match="exception 4"):
            await read(fleet, hit[FaultKind.exception])
        with pytest.raises(ConnectionFailed):
            await read(fleet, hit[FaultKind.drop])
        assert "power_w" in await read(fleet, hit[FaultKind.delay])  # late, inside the timeout
        assert "power_w" in await read(fleet, healthy)


async def test_lamp_failure_shows_on_the_meter_and_the_fault_bits() -> None:
    async with Fleet(Scenario(lamps=4, faults=FaultSpec.parse_many("lamp_failure:1")), clock=FakeClock(T0)) as fleet:
        failed = next(d.id for d in fleet.plan.devices if d.faults)
        values = await read(fleet, failed)
    assert values["relay_on"] == 1 and values["power_w"] < 5 and int(values["fault_bits"]) & 1


async def test_modbus_gauge_reports_distance_and_the_level_derives_from_it() -> None:
    clock = FakeClock(T0)
    scenario = Scenario(gauges=2, gauge_transport=GaugeTransport.tcp, rainfall=Rainfall.parse("10s+120s@80mm/h"))
    async with Fleet(scenario, clock=clock) as fleet:
        dry = await read(fleet, "CG-001")
        clock.advance(seconds=140)
        wet = await read(fleet, "CG-001")
        true_level = fleet.gauges["CG-001"].true_level_mm(clock.now())
        gauge = by_id(fleet)["CG-001"]
        async with bus_for(gauge) as bus:
            await write_metric(bus, 1, PROFILES[gauge.profile], "mounting_height_mm", 2600)
        clock.advance(seconds=1)
        rewritten = await read(fleet, "CG-001")
    assert dry["water_level_mm"] == pytest.approx(40, abs=15)
    assert dry["mounting_height_mm"] - dry["distance_mm"] == dry["water_level_mm"]
    assert wet["water_level_mm"] > 800 and wet["water_level_mm"] == pytest.approx(true_level, abs=40)
    # The installer's new height changes the derived level; the sensor measures the same distance.
    assert rewritten["mounting_height_mm"] == 2600
    assert rewritten["distance_mm"] == pytest.approx(wet["distance_mm"], abs=60)


@pytest.mark.parametrize("transport", [ProbeTransport.rtu, ProbeTransport.tcp, ProbeTransport.rtu_over_tcp])
async def test_probes_over_rtu_on_a_serial_pair_and_over_tcp(transport: ProbeTransport) -> None:
    async with Fleet(Scenario(probes=3, probe_transport=transport), clock=FakeClock(T0)) as fleet:
        registered = by_id(fleet)
        if transport is ProbeTransport.rtu:
            assert registered["WQ-002"].address.serial_port.endswith("/client")  # type: ignore[union-attr]
        samples = {d: await read(fleet, d) for d in ("WQ-001", "WQ-002", "WQ-003")}
    profile = PROFILES["sw-water-quality-probe"]
    for values in samples.values():
        assert set(values) == {m.name for m in profile.modbus.metrics}  # type: ignore[union-attr]
        for metric in profile.modbus.metrics:  # type: ignore[union-attr]
            assert metric.min <= values[metric.name] <= metric.max  # type: ignore[operator]


async def test_lamps_behind_an_rtu_over_tcp_converter() -> None:
    scenario = Scenario(lamps=3, lamp_transport=LampTransport.rtu_over_tcp)
    async with Fleet(scenario, clock=FakeClock(T0)) as fleet:
        assert by_id(fleet)["LP-00003"].transport.value == "modbus-rtu-over-tcp"
        assert (await read(fleet, "LP-00003"))["dim_level_pct"] == 60


async def test_many_unit_ids_per_port_and_several_ports() -> None:
    async with Fleet(Scenario(lamps=500, units_per_port=247), clock=FakeClock(T0)) as fleet:
        ports = {d.address.port for d in fleet.registered}  # type: ignore[union-attr]
        assert len(ports) == 3 and len(fleet.servers) == 3
        last = by_id(fleet)["LP-00500"]
        assert last.address.unit == 500 - 2 * 247  # type: ignore[union-attr]
        assert (await read(fleet, "LP-00500"))["relay_on"] == 1
