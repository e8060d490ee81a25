"""From a scenario to a fleet plan: every device's id, place, groups, address slot and faults.

Pure and deterministic: the same scenario gives the same plan. Addresses are *endpoint slots*
(a TCP port with many unit ids behind it, or a serial line); :class:`simulators.fleet.Fleet`
binds them to real ports and ptys when it starts.

Lamps fill as many streets as there are gauges (at least one, at most all), so every culvert
has lamps around it. Lamps within :data:`HAZARD_RADIUS_M` of a gauge join its hazard group
(``hazard-<street>``), which the gauge names in its ``hazard_group`` tag: the group a red flood
alert dims up to 100 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date

from device_registry.device import Transport
from simulators import baiyun
from simulators.errors import SimulatorError
from simulators.faults import FaultKind, FaultWindow, Target
from simulators.scenario import GaugeTransport, ProbeTransport, Scenario
from simulators.seeding import rng_for

HAZARD_RADIUS_M = 250.0
LAMPS_PER_CABINET = 40
MAX_UNITS_PER_RS485_LINE = 32  # without repeaters

PROFILES: dict[tuple[Target, Transport], str] = {
    (Target.lamp, Transport.modbus_tcp): "sw-lamp-controller",
    (Target.lamp, Transport.modbus_rtu_over_tcp): "sw-lamp-controller",
    (Target.gauge, Transport.mqtt): "sw-culvert-gauge-mqtt",
    (Target.gauge, Transport.modbus_tcp): "sw-culvert-gauge-modbus",
    (Target.probe, Transport.mqtt): "sw-water-quality-probe-mqtt",
    (Target.probe, Transport.modbus_tcp): "sw-water-quality-probe",
    (Target.probe, Transport.modbus_rtu): "sw-water-quality-probe",
    (Target.probe, Transport.modbus_rtu_over_tcp): "sw-water-quality-probe",
}
KINDS = {Target.lamp: "lamp_controller", Target.gauge: "culvert_gauge", Target.probe: "water_quality_probe"}


class PlanError(SimulatorError, ValueError):
    """The scenario cannot be laid out (e.g. more faulty devices than devices)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A TCP port with unit ids behind it (``port`` fixed, or 0 for a free one), or a serial line."""

    index: int
    role: Target
    transport: Transport
    port: int = 0


@dataclass(frozen=True, slots=True)
class PlannedDevice:
    id: str
    role: Target
    profile: str
    transport: Transport
    latitude: float
    longitude: float
    landmark: str
    site: str
    groups: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]
    poll_interval_s: float
    installed_on: date
    endpoint: int | None = None  # index into FleetPlan.endpoints; None for MQTT
    unit: int = 0
    faults: tuple[tuple[FaultKind, FaultWindow], ...] = ()

    @property
    def kind(self) -> str:
        return KINDS[self.role]

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    def fault(self, kind: FaultKind) -> FaultWindow | None:
        return next((w for k, w in self.faults if k is kind), None)


@dataclass(frozen=True, slots=True)
class FleetPlan:
    scenario: Scenario
    devices: tuple[PlannedDevice, ...]
    endpoints: tuple[Endpoint, ...]
    _by_id: dict[str, PlannedDevice] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({d.id: d for d in self.devices})

    def device(self, device_id: str) -> PlannedDevice:
        return self._by_id[device_id]

    def of(self, role: Target) -> list[PlannedDevice]:
        return [d for d in self.devices if d.role is role]

    def on_endpoint(self, index: int) -> list[PlannedDevice]:
        return [d for d in self.devices if d.endpoint == index]


def _id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


def _installed_on(rng_seed: int, device_id: str) -> date:
    rng = rng_for(rng_seed, device_id, "installed")
    return date.fromordinal(date(2019, 1, 1).toordinal() + rng.randrange(6 * 365))


class _Slots:
    """Hands out (endpoint, unit) pairs: ``per_endpoint`` units behind each new endpoint."""

    def __init__(self, endpoints: list[Endpoint], scenario: Scenario) -> None:
        self._endpoints = endpoints
        self._scenario = scenario

    def allocate(self, role: Target, transport: Transport, count: int) -> Iterator[tuple[int, int]]:
        per = self._scenario.units_per_port
        if transport is Transport.modbus_rtu:
            per = min(per, MAX_UNITS_PER_RS485_LINE)
        for i in range(count):
            if i % per == 0:
                index = len(self._endpoints)
                base = self._scenario.base_port
                port = base + index if base and transport is not Transport.modbus_rtu else 0
                self._endpoints.append(Endpoint(index, role, transport, port))
            yield len(self._endpoints) - 1, i % per + 1


def plan_fleet(scenario: Scenario) -> FleetPlan:
    """Lay the scenario's devices out (see the module doc)."""
    endpoints: list[Endpoint] = []
    slots = _Slots(endpoints, scenario)
    n_streets = min(len(baiyun.STREETS), max(scenario.gauges, math.ceil(scenario.lamps / 200), 1))
    streets = baiyun.STREETS[:n_streets]

    lamps = _plan_lamps(scenario, streets, slots)
    gauges = _plan_gauges(scenario, streets, slots)
    by_street: dict[str, list[int]] = {}
    for i, lamp in enumerate(lamps):
        by_street.setdefault(lamp.tag_map["street"], []).append(i)
    hazard: dict[int, list[str]] = {}
    for gauge in gauges:
        tags = gauge.tag_map
        position = (gauge.latitude, gauge.longitude)
        for i in by_street.get(tags["street"], []):
            if baiyun.distance_m(position, (lamps[i].latitude, lamps[i].longitude)) <= HAZARD_RADIUS_M:
                hazard.setdefault(i, []).append(tags["hazard_group"])
    lamps = [_with(lamp, groups=lamp.groups + tuple(hazard[i])) if i in hazard else lamp
             for i, lamp in enumerate(lamps)]
    probes = _plan_probes(scenario, slots)
    devices = _assign_faults(scenario, [*lamps, *gauges, *probes])
    return FleetPlan(scenario, tuple(devices), tuple(endpoints))


def _with(device: PlannedDevice, **changes: object) -> PlannedDevice:
    return replace(device, **changes)  # type: ignore[arg-type]


def _plan_lamps(scenario: Scenario, streets: tuple[baiyun.Street, ...], slots: _Slots) -> list[PlannedDevice]:
    width = _id_width(scenario.lamps, 5)
    transport = Transport(scenario.lamp_transport.value)
    addresses = slots.allocate(Target.lamp, transport, scenario.lamps)
    lamps = []
    for n in range(scenario.lamps):
        street = streets[n % len(streets)]
        index_on_street = n // len(streets)
        (lat, lon), row = baiyun.lamp_position(street, index_on_street)
        cabinet = index_on_street // LAMPS_PER_CABINET + 1
        device_id = f"{scenario.id_prefix}LP-{n + 1:0{width}d}"
        endpoint, unit = next(addresses)
        where = street.name if row == 0 else f"{street.name} side street {row}"
        lamps.append(PlannedDevice(
            id=device_id, role=Target.lamp, profile=PROFILES[(Target.lamp, transport)], transport=transport,
            latitude=lat, longitude=lon, landmark=f"{where}, pole {index_on_street + 1}", site=street.site,
            groups=(f"street-{street.slug}", f"cab-{street.slug}-{cabinet:02d}"),
            tags=(("street", street.slug), ("road", "main" if row == 0 else "side"),
                  ("rated_power_w", "150" if row == 0 else "90")),
            poll_interval_s=scenario.lamp_poll_interval_s, installed_on=_installed_on(scenario.seed, device_id),
            endpoint=endpoint, unit=unit,
        ))
    return lamps


def _plan_gauges(scenario: Scenario, streets: tuple[baiyun.Street, ...], slots: _Slots) -> list[PlannedDevice]:
    width = _id_width(scenario.gauges, 3)
    transport = Transport(scenario.gauge_transport.value)
    modbus = scenario.gauge_transport is not GaugeTransport.mqtt
    addresses = slots.allocate(Target.gauge, transport, scenario.gauges) if modbus else None
    gauges = []
    for g in range(scenario.gauges):
        street = streets[g % len(streets)]
        k = g // len(streets)  # the k-th culvert on this street
        # Lamps go round-robin over the streets; the main road's poles come first on each.
        lamps_here = len(range(g % len(streets), scenario.lamps, len(streets)))
        poles = min(lamps_here, baiyun.lamps_per_row(street))
        if poles:
            anchor = (poles // 2 + 15 * k) % poles  # further culverts 15 poles (~500 m) apart
            along = (anchor + 0.5) * baiyun.LAMP_SPACING_M
        else:
            along = street.length_m * ((0.5 + 0.17 * k) % 1.0)
        lat, lon = baiyun.point_along(street, along + 10.0, 12.0)  # beside the road, between poles
        suffix = f"-{k + 1}" if k else ""
        device_id = f"{scenario.id_prefix}CG-{g + 1:0{width}d}"
        endpoint, unit = next(addresses) if addresses else (None, 0)
        landmark = street.culvert + (f" #{k + 1}" if k else "")
        gauges.append(PlannedDevice(
            id=device_id, role=Target.gauge, profile=PROFILES[(Target.gauge, transport)], transport=transport,
            latitude=lat, longitude=lon, landmark=landmark, site=street.site,
            # The gauge belongs to its own hazard point's group, so a flood rule's action can name it.
            groups=("culverts", f"street-{street.slug}", f"hazard-{street.slug}{suffix}"),
            tags=(("street", street.slug), ("hazard_group", f"hazard-{street.slug}{suffix}"),
                  ("mounting_height_mm", "2500")),
            poll_interval_s=scenario.gauge_interval_s, installed_on=_installed_on(scenario.seed, device_id),
            endpoint=endpoint, unit=unit,
        ))
    return gauges


def _plan_probes(scenario: Scenario, slots: _Slots) -> list[PlannedDevice]:
    width = _id_width(scenario.probes, 3)
    transport = Transport(scenario.probe_transport.value)
    modbus = scenario.probe_transport is not ProbeTransport.mqtt
    addresses = slots.allocate(Target.probe, transport, scenario.probes) if modbus else None
    probes = []
    for p in range(scenario.probes):
        river = baiyun.RIVERS[p % len(baiyun.RIVERS)]
        k = p // len(baiyun.RIVERS)
        # Further probes on the same river stand 300 m downstream of each other.
        lat, lon = round(river.at[0] - 0.0027 * k, 6), river.at[1]
        device_id = f"{scenario.id_prefix}WQ-{p + 1:0{width}d}"
        endpoint, unit = next(addresses) if addresses else (None, 0)
        probes.append(PlannedDevice(
            id=device_id, role=Target.probe, profile=PROFILES[(Target.probe, transport)], transport=transport,
            latitude=lat, longitude=lon, landmark=river.name + (f" station {k + 1}" if k else ""), site=river.site,
            groups=("rivers", f"river-{river.slug}"), tags=(("river", river.slug),),
            poll_interval_s=scenario.probe_interval_s, installed_on=_installed_on(scenario.seed, device_id),
            endpoint=endpoint, unit=unit,
        ))
    return probes


def _assign_faults(scenario: Scenario, devices: list[PlannedDevice]) -> list[PlannedDevice]:
    pools: dict[Target, list[int]] = {}
    for target in Target:
        indices = [i for i, d in enumerate(devices) if d.role is target]
        rng_for(scenario.seed, target.value, "faults").shuffle(indices)
        pools[target] = indices
    assigned: dict[int, list[tuple[FaultKind, FaultWindow]]] = {}
    for spec in scenario.faults:
        pool = pools[spec.target]
        if spec.kind.is_comms and pool and devices[pool[0]].transport is Transport.mqtt:
            raise PlanError(f"fault {spec.describe()}: {spec.kind.value} is a Modbus fault but the "
                            f"{spec.target.value}s here use MQTT (use dropout)")
        if len(pool) < spec.count:
            raise PlanError(f"fault {spec.describe()}: needs {spec.count} {spec.target.value}(s) without a "
                            f"fault, {len(pool)} left")
        for i in pool[:spec.count]:
            assigned.setdefault(i, []).append((spec.kind, spec.window))
        del pool[:spec.count]
    return [_with(d, faults=tuple(assigned[i])) if i in assigned else d for i, d in enumerate(devices)]

