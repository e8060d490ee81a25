"""Simulated devices, independent of how they are reached: a model, its parameters, its faults.

Each wraps a pure model (``lamp``, ``gauge``, ``water_quality``) with what the plan says about
the device, and answers in the profile's metric names:

* ``telemetry(now)``: the MQTT payload's metrics (None while the device is silent);
* ``registers(now)``: the Modbus profile's metrics (None while it does not answer);
* ``command(action, params, now)``: a command from the control path; raises
  :class:`CommandRejected` with a reason the acknowledgement carries.

Parameters that vary between devices (a culvert's catchment, a lamp's age) come from the scenario
seed, so the same scenario gives the same fleet. The first gauge always has the reference
catchment, so a demo's storm reliably floods at least one culvert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from simulators.faults import FaultKind, FaultWindow
from simulators.gauge import GaugeFault, GaugeModel, GaugeSpec
from simulators.lamp import LampController, LampFault, LampSpec, ScheduleStep
from simulators.plan import PlannedDevice
from simulators.rain import CulvertLevel, CulvertResponse
from simulators.scenario import Scenario
from simulators.seeding import rng_for
from simulators.water_quality import PollutionEvent, ProbeSite, WaterQualityModel

MIN_MOUNTING_MM = 300
MAX_MOUNTING_MM = 20_000
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86_400.0


class CommandRejected(Exception):
    """The device refuses a command; the message goes into the acknowledgement."""


def _elapsed_s(origin: datetime, now: datetime) -> float:
    return (now - origin).total_seconds()


def _interval_command(device: SimGauge | SimProbe, action: str, params: Mapping[str, Any]) -> None:
    if action == "ping":
        return
    if action == "set_interval":
        value = params.get("interval_s")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise CommandRejected("set_interval needs a number interval_s")
        if not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
            raise CommandRejected(f"interval_s {value:g} is outside {MIN_INTERVAL_S:g}..{MAX_INTERVAL_S:g}")
        device.interval_s = float(value)
        return
    raise CommandRejected(f"unknown action {action!r} (known: ping, set_interval)")


class SimGauge:
    """A culvert gauge: the true level from the scenario's rain, seen through its sensor."""

    def __init__(self, planned: PlannedDevice, scenario: Scenario, origin: datetime, *,
                 reference: bool = False) -> None:
        self.device_id = planned.id
        self.origin = origin
        self.interval_s = scenario.gauge_interval_s
        rng = rng_for(scenario.seed, planned.id, "gauge-params")
        first = reference  # the reference catchment: exactly the scenario's culvert response
        c = scenario.culvert
        self.response = CulvertResponse(
            base_level_mm=c.base_level_mm if first else c.base_level_mm * rng.uniform(0.5, 1.5),
            gain_mm_per_mm_h=c.gain_mm_per_mm_h * (1.0 if first else rng.uniform(0.45, 1.15)),
            lag_s=c.lag_s * (1.0 if first else rng.uniform(0.8, 1.25)),
            drain_s=c.drain_s * (1.0 if first else rng.uniform(0.8, 1.25)),
            max_level_mm=c.max_level_mm,
        )
        self.mounting_height_mm = float(planned.tag_map.get("mounting_height_mm", "2500"))
        # What the installer wrote into the gauge; the sensor's real height does not change with it.
        self.configured_height_mm = self.mounting_height_mm
        spec = GaugeSpec(mounting_height_mm=self.mounting_height_mm,
                         battery_start_v=round(rng.uniform(3.85, 4.05), 3),
                         signal_base_pct=round(rng.uniform(55.0, 92.0)))
        faults = {GaugeFault(kind.value): window for kind, window in planned.faults
                  if kind.value in GaugeFault.__members__}
        self.model = GaugeModel(CulvertLevel(scenario.rainfall, self.response), spec, seed=scenario.seed,
                                device_id=planned.id, faults=faults)
        self.comms_faults = {kind: window for kind, window in planned.faults if kind.is_comms}

    def silent(self, now: datetime) -> bool:
        return self.model.silent(_elapsed_s(self.origin, now))

    def true_level_mm(self, now: datetime) -> float:
        return self.model.true_level_mm(_elapsed_s(self.origin, now))

    def telemetry(self, now: datetime) -> dict[str, float] | None:
        sample = self.model.sample(_elapsed_s(self.origin, now))
        if sample is None:
            return None
        return {"water_level_mm": sample.water_level_mm, "battery_v": sample.battery_v,
                "signal_quality_pct": sample.signal_quality_pct}

    def registers(self, now: datetime) -> dict[str, float] | None:
        sample = self.model.sample(_elapsed_s(self.origin, now))
        if sample is None:
            return None
        return {"mounting_height_mm": self.configured_height_mm, "distance_mm": sample.distance_mm,
                "battery_v": sample.battery_v, "signal_quality_pct": sample.signal_quality_pct}

    def write(self, metric: str, value: float, now: datetime) -> None:
        if metric != "mounting_height_mm":
            raise ValueError(f"{metric} is not writable")
        if not MIN_MOUNTING_MM <= value <= MAX_MOUNTING_MM:
            raise ValueError(f"mounting height {value:g} mm is outside {MIN_MOUNTING_MM}..{MAX_MOUNTING_MM} mm")
        self.configured_height_mm = float(value)

    def command(self, action: str, params: Mapping[str, Any], now: datetime) -> None:
        _interval_command(self, action, params)


class SimProbe:
    """A water-quality probe in one of Baiyun's rivers."""

    def __init__(self, planned: PlannedDevice, scenario: Scenario, origin: datetime) -> None:
        self.device_id = planned.id
        self.origin = origin
        self.interval_s = scenario.probe_interval_s
        rng = rng_for(scenario.seed, planned.id, "probe-params")
        site = ProbeSite(
            mean_temperature_c=round(rng.uniform(23.0, 27.0), 1),
            ph_mean=round(rng.uniform(7.0, 7.6), 2),
            conductivity_us_cm=round(rng.uniform(300.0, 600.0)),
            turbidity_ntu=round(rng.uniform(5.0, 25.0), 1),
            ammonia_mg_l=round(rng.uniform(0.15, 0.8), 2),
        )
        pollution = [PollutionEvent(window) for kind, window in planned.faults if kind is FaultKind.pollution]
        self.dropout = planned.fault(FaultKind.dropout)
        self.comms_faults = {kind: window for kind, window in planned.faults if kind.is_comms}
        self.model = WaterQualityModel(site, scenario.seed, planned.id, origin, scenario.rainfall, pollution)

    def silent(self, now: datetime) -> bool:
        return self.dropout is not None and self.dropout.active(_elapsed_s(self.origin, now))

    def telemetry(self, now: datetime) -> dict[str, float] | None:
        if self.silent(now):
            return None
        return self.model.sample(_elapsed_s(self.origin, now)).metrics()

    def registers(self, now: datetime) -> dict[str, float] | None:
        return self.telemetry(now)

    def write(self, metric: str, value: float, now: datetime) -> None:
        raise ValueError(f"{metric} is not writable")

    def command(self, action: str, params: Mapping[str, Any], now: datetime) -> None:
        _interval_command(self, action, params)


class SimLamp:
    """A lamp-post controller; Modbus writes go to :meth:`write`."""

    def __init__(self, planned: PlannedDevice, scenario: Scenario, origin: datetime,
                 initial_dim_pct: int = 60) -> None:
        self.device_id = planned.id
        self.origin = origin
        rng = rng_for(scenario.seed, planned.id, "lamp-params")
        rated_power_w = float(planned.tag_map.get("rated_power_w", "120"))
        years = max((origin.date() - planned.installed_on).days / 365.25, 0.0)
        burning_h = years * 4100.0 * rng.uniform(0.9, 1.1)  # ~11 h a night
        spec = LampSpec(rated_power_w=rated_power_w, clock_drift_ppm=rng.uniform(-20.0, 20.0),
                        initial_energy_kwh=round(burning_h * rated_power_w * 0.7 / 1000.0, 2),
                        initial_running_hours=round(burning_h))
        faults = {LampFault(kind.value): window for kind, window in planned.faults
                  if kind.value in LampFault.__members__}
        self.controller = LampController(spec, seed=scenario.seed, device_id=planned.id, now=origin,
                                         faults=faults, origin=origin)
        self.controller.set_dim(initial_dim_pct, origin)
        self.comms_faults: dict[FaultKind, FaultWindow] = {
            kind: window for kind, window in planned.faults if kind.is_comms}

    def registers(self, now: datetime) -> dict[str, float]:
        return self.controller.read(now).metrics()

    def write(self, metric: str, value: float, now: datetime) -> None:
        """A Modbus write of one metric; raises ValueError for a value the controller refuses."""
        c = self.controller
        if metric == "dim_level_pct":
            c.set_dim(value, now)
        elif metric == "relay_on":
            c.set_relay(bool(value), now)
        elif metric == "flash_mode":
            if value not in (0, 1):
                raise ValueError(f"flash_mode {value:g} is not 0 or 1")
            c.set_flash(bool(value), now)
        elif metric == "clock_epoch_s":
            c.set_clock(value, now)
        else:
            raise ValueError(f"{metric} is not writable")

    def write_schedule(self, steps: list[tuple[int, int]], now: datetime) -> None:
        self.controller.set_schedule([ScheduleStep(minute, dim) for minute, dim in steps], now)
