"""Laying a scenario out: ids, places in Baiyun, groups, address slots and faults."""

from __future__ import annotations

from collections import Counter

import pytest

from device_registry.device import Transport
from device_registry.profile import shipped_profiles
from simulators import baiyun
from simulators.faults import FaultKind, FaultSpec, Target
from simulators.plan import HAZARD_RADIUS_M, PlanError, plan_fleet
from simulators.scenario import GaugeTransport, ProbeTransport, Scenario


def test_demo_plan() -> None:
    plan = plan_fleet(Scenario.demo())
    assert [len(plan.of(t)) for t in Target] == [40, 4, 2]
    assert plan.of(Target.lamp)[0].id == "LP-00001" and plan.of(Target.gauge)[-1].id == "CG-004"
    profiles = shipped_profiles()
    for d in plan.devices:
        assert d.profile in profiles and profiles[d.profile].kind == d.kind
        assert baiyun.LAT_RANGE[0] <= d.latitude <= baiyun.LAT_RANGE[1]
        assert baiyun.LON_RANGE[0] <= d.longitude <= baiyun.LON_RANGE[1]
    # Every culvert has lamps in its hazard group, and they really stand near it.
    lamps = plan.of(Target.lamp)
    for gauge in plan.of(Target.gauge):
        group = gauge.tag_map["hazard_group"]
        members = [lamp for lamp in lamps if group in lamp.groups]
        assert len(members) >= 5
        for lamp in members:
            assert baiyun.distance_m((gauge.latitude, gauge.longitude), (lamp.latitude, lamp.longitude)) \
                <= HAZARD_RADIUS_M


def test_units_fill_ports_up_to_the_limit_then_open_another() -> None:
    plan = plan_fleet(Scenario(lamps=600, units_per_port=247, probes=40, probe_transport=ProbeTransport.rtu,
                               base_port=15020))
    lamp_endpoints = Counter(d.endpoint for d in plan.of(Target.lamp))
    assert sorted(lamp_endpoints.values()) == [106, 247, 247]
    assert [e.port for e in plan.endpoints[:3]] == [15020, 15021, 15022]
    units = {(d.endpoint, d.unit) for d in plan.devices}
    assert len(units) == len(plan.devices)  # no two devices share an address
    assert all(1 <= d.unit <= 247 for d in plan.devices)
    # RS-485 lines take at most 32 devices and have no TCP port.
    rtu = [e for e in plan.endpoints if e.transport is Transport.modbus_rtu]
    assert len(rtu) == 2 and all(e.port == 0 for e in rtu)


def test_same_scenario_same_plan_other_seed_other_faults() -> None:
    scenario = Scenario(lamps=200, gauges=6, faults=FaultSpec.parse_many("lamp_failure:5,no_answer:3,dropout:2"))
    assert plan_fleet(scenario) == plan_fleet(scenario)
    faulty = {d.id for d in plan_fleet(scenario).devices if d.faults}
    other = {d.id for d in plan_fleet(scenario.with_changes(seed=2)).devices if d.faults}
    assert len(faulty) == 10 and faulty != other


def test_faults_land_on_distinct_devices_of_their_target() -> None:
    plan = plan_fleet(Scenario(lamps=10, gauges=3, probes=2,
                               faults=FaultSpec.parse_many("lamp_failure:4,cycling:6,stuck_sensor:3,pollution:2")))
    lamp_faults = [k for d in plan.of(Target.lamp) for k, _ in d.faults]
    assert Counter(lamp_faults) == {FaultKind.lamp_failure: 4, FaultKind.cycling: 6}
    assert all(len(d.faults) == 1 for d in plan.of(Target.lamp))
    assert all(d.fault(FaultKind.stuck_sensor) for d in plan.of(Target.gauge))
    assert all(d.fault(FaultKind.pollution) for d in plan.of(Target.probe))


@pytest.mark.parametrize(("scenario", "message"), [
    (Scenario(lamps=2, faults=(FaultSpec(FaultKind.lamp_failure, 3),)), "needs 3 lamp"),
    (Scenario(gauges=2, faults=(FaultSpec(FaultKind.no_answer, 1, Target.gauge),)), "use dropout"),
])
def test_impossible_faults(scenario: Scenario, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_fleet(scenario)


def test_transports_choose_profiles() -> None:
    plan = plan_fleet(Scenario(gauges=1, probes=1, gauge_transport=GaugeTransport.tcp,
                               probe_transport=ProbeTransport.mqtt))
    assert plan.of(Target.gauge)[0].profile == "sw-culvert-gauge-modbus"
    assert plan.of(Target.probe)[0].profile == "sw-water-quality-probe-mqtt"
    assert plan.of(Target.probe)[0].endpoint is None


def test_thousands_of_lamps_spread_over_every_street() -> None:
    plan = plan_fleet(Scenario(lamps=5000, gauges=24))
    streets = Counter(d.tag_map["street"] for d in plan.of(Target.lamp))
    assert len(streets) == len(baiyun.STREETS)
    positions = {(d.latitude, d.longitude) for d in plan.of(Target.lamp)}
    assert len(positions) > 4900  # side streets, not a pile of lamps on one spot
    assert len({d.tag_map["hazard_group"] for d in plan.of(Target.gauge)}) == 24
