"""The unit of telemetry that flows from drivers through the gateway to the store and the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One metric of one device at one instant. ``ts`` is timezone-aware (UTC inside Streetwatch).

    Metric names carry their unit: ``water_level_mm``, ``power_w``, ``dissolved_oxygen_mg_l``.
    """

    device_id: str
    metric: str
    ts: datetime
    value: float
