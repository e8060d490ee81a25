"""The Fleet as the demo drives it: scenario timing, injected faults, descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device_drivers.modbus import BusSettings, Endpoint, ModbusBus, read_device
from device_registry.profile import shipped_profiles
from simulators import FaultKind, Fleet, Scenario, SimulatorError
from simulators.scenario import GaugeTransport
from streetwatch.clock import FakeClock

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
LAMP = shipped_profiles()["sw-lamp-controller"]


def test_mqtt_devices_need_a_broker() -> None:
    with pytest.raises(SimulatorError, match="need a broker"):
        Fleet(Scenario(gauges=1))


async def test_demo_storm_timing_reaches_red_at_the_first_culvert() -> None:
    clock = FakeClock(T0)
    scenario = Scenario.demo().with_changes(gauge_transport=GaugeTransport.tcp)  # no broker needed
    async with Fleet(scenario, clock=clock) as fleet:
        storm = fleet.scenario.rainfall.events[0]
        assert fleet.at(storm.start_s) == T0 + timedelta(seconds=30)
        levels = {}
        for second in (0, 60, 130, 400):
            clock.advance(seconds=second - fleet.elapsed_s())
            levels[second] = {i: g.true_level_mm(clock.now()) for i, g in fleet.gauges.items()}
        lines = list(fleet.describe())
    assert all(level < 100 for level in levels[0].values())
    assert levels[130]["CG-001"] > 800  # the reference culvert floods: red
    # Seed 1's catchments differ: two culverts reach red, the other two only orange.
    assert sorted(level > 800 for level in levels[130].values()) == [False, False, True, True]
    assert min(levels[130].values()) > 500
    assert all(level < 150 for level in levels[400].values())  # drained
    assert "rain: 30s+2m@80mm/h" in lines
    assert any(line.startswith("40 lamp(s) LP-00001..LP-00040 on 127.0.0.1:") for line in lines)


async def test_injected_faults_take_effect_from_now() -> None:
    clock = FakeClock(T0)
    async with Fleet(Scenario(lamps=2), clock=clock) as fleet:
        lamp = next(d for d in fleet.registered if d.id == "LP-00001")
        address = lamp.address
        async with ModbusBus(Endpoint.of(address), BusSettings(timeout_s=0.3)) as bus:  # type: ignore[arg-type]
            before = (await read_device(bus, 1, LAMP)).values
            fleet.inject("LP-00001", FaultKind.lamp_failure)
            clock.advance(seconds=1)
            failed = (await read_device(bus, 1, LAMP)).values
            fleet.inject("LP-00001", FaultKind.exception, duration_s=5)
            clock.advance(seconds=1)
            with pytest.raises(Exception, match="exception 4"):
                await read_device(bus, 1, LAMP)
            clock.advance(seconds=5)
            after = (await read_device(bus, 1, LAMP)).values
        with pytest.raises(SimulatorError, match="cannot be injected"):
            fleet.inject("LP-00002", FaultKind.stuck_sensor)
    assert before["power_w"] > 50 and failed["power_w"] < 5 and after["power_w"] < 5
    assert int(failed["fault_bits"]) & 1
