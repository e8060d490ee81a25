"""Simulated lamp-post controllers, culvert gauges and water-quality probes (docs/simulators.md).

    from simulators import Fleet, Scenario

    async with Fleet(Scenario.demo(), mqtt_url="mqtt://127.0.0.1:1883") as fleet:
        fleet.write_csv(Path("fleet.csv"))
        await fleet.run(duration_s=300)
"""

from __future__ import annotations

from simulators.devices import CommandRejected, SimGauge, SimLamp, SimProbe
from simulators.errors import SimulatorError
from simulators.faults import FaultKind, FaultSpec, FaultWindow, Target
from simulators.fleet import Fleet
from simulators.plan import FleetPlan, PlanError, PlannedDevice, plan_fleet
from simulators.rain import CulvertLevel, CulvertResponse, RainEvent, Rainfall, RainShape
from simulators.scenario import DEMO_CULVERT, GaugeTransport, LampTransport, ProbeTransport, Scenario

__all__ = [
    "DEMO_CULVERT", "CommandRejected", "CulvertLevel", "CulvertResponse", "FaultKind", "FaultSpec", "FaultWindow",
    "Fleet", "FleetPlan", "GaugeTransport", "LampTransport", "PlanError", "PlannedDevice", "ProbeTransport",
    "RainEvent", "RainShape", "Rainfall", "Scenario", "SimGauge", "SimLamp", "SimProbe", "SimulatorError",
    "Target", "plan_fleet",
]
