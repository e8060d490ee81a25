"""A scenario: how many devices of each kind, how they are reached, the rain, the faults, the seed.

A scenario is plain data. :func:`simulators.plan.plan_fleet` turns it into devices placed around
Baiyun, Guangzhou; :class:`simulators.fleet.Fleet` runs them. The same scenario and seed give the
same devices, positions, faults and noise every time.

>>> Scenario.demo().rainfall.describe()
'30s+2m@80mm/h'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from simulators.faults import FaultSpec
from simulators.rain import CulvertResponse, Rainfall

# A culvert that answers within a minute: a storm of two minutes makes a whole flood cycle,
# which is what a demo or a benchmark wants. Real culverts take tens of minutes
# (:class:`CulvertResponse` defaults).
DEMO_CULVERT = CulvertResponse(base_level_mm=40.0, gain_mm_per_mm_h=12.0, lag_s=15.0, drain_s=30.0)
MAX_UNITS_PER_PORT = 247
ID_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,48}$")  # Modbus unit ids 1..247


class LampTransport(StrEnum):
    tcp = "modbus-tcp"
    rtu_over_tcp = "modbus-rtu-over-tcp"


class GaugeTransport(StrEnum):
    mqtt = "mqtt"
    tcp = "modbus-tcp"


class ProbeTransport(StrEnum):
    tcp = "modbus-tcp"
    rtu = "modbus-rtu"
    rtu_over_tcp = "modbus-rtu-over-tcp"
    mqtt = "mqtt"


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything a simulation run is told."""

    lamps: int = 0
    gauges: int = 0
    probes: int = 0
    rainfall: Rainfall = field(default_factory=Rainfall)
    faults: tuple[FaultSpec, ...] = ()
    seed: int = 1
    culvert: CulvertResponse = DEMO_CULVERT
    lamp_transport: LampTransport = LampTransport.tcp
    gauge_transport: GaugeTransport = GaugeTransport.mqtt
    probe_transport: ProbeTransport = ProbeTransport.tcp
    gauge_interval_s: float = 5.0
    probe_interval_s: float = 10.0
    lamp_poll_interval_s: float = 10.0
    host: str = "127.0.0.1"
    base_port: int = 0  # 0: free ports chosen at start
    units_per_port: int = 200
    per_device_clients: bool = False
    devices_per_client: int = 250
    id_prefix: str = ""  # e.g. "north-": two simulators on one broker keep apart

    def __post_init__(self) -> None:
        for name in ("lamps", "gauges", "probes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: cannot be negative")
        if not 1 <= self.units_per_port <= MAX_UNITS_PER_PORT:
            raise ValueError(f"units per port must be 1..{MAX_UNITS_PER_PORT}, not {self.units_per_port}")
        if self.devices_per_client < 1:
            raise ValueError("devices per MQTT client must be at least 1")
        if self.id_prefix and not ID_PREFIX.match(self.id_prefix):
            raise ValueError(f"id prefix {self.id_prefix!r}: letters, digits, '.', '_' and '-' only (≤ 48)")
        if not 0 <= self.base_port <= 65535:
            raise ValueError(f"base port {self.base_port} is not a TCP port")
        for name in ("gauge_interval_s", "probe_interval_s", "lamp_poll_interval_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive")

    @classmethod
    def demo(cls) -> Scenario:
        """The newcomer's first five minutes: a street of lamps by a few culverts, a storm at 30 s."""
        return cls(lamps=40, gauges=4, probes=2, rainfall=Rainfall.parse("30s+120s@80mm/h"),
                   gauge_interval_s=2.0, probe_interval_s=5.0, lamp_poll_interval_s=5.0)

    def with_changes(self, **changes: object) -> Scenario:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def uses_mqtt(self) -> bool:
        return (self.gauges > 0 and self.gauge_transport is GaugeTransport.mqtt) or (
            self.probes > 0 and self.probe_transport is ProbeTransport.mqtt)
