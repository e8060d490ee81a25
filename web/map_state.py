"""What colour each device has on the console's map: one state per device, decided here, not in the browser.

A lamp is ``on``, ``dimmed``, ``off`` or ``fault``; a gauge or a probe is ``normal`` or the severity of its
worst open alert (``yellow``, ``orange``, ``red`` …); any device the gateway has marked offline is
``offline``, and one with nothing known about it yet is ``unknown``. The console only paints these names.

>>> classify("lamp_controller", {"relay_on": 1.0, "dim_level_pct": 40.0}, online=True, alert_severity=None)
'dimmed'
>>> classify("culvert_gauge", {"water_level_mm": 710.0}, online=True, alert_severity="red")
'red'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rules.alert_store import AlertStore
from rules.severity import SeverityScale
from streetwatch.database import Database, DatabaseError
from telemetry_store import TelemetryStore

LAMP_STATES = ("on", "dimmed", "off", "fault")
COMMON_STATES = ("offline", "unknown", "normal")
LAMP_METRICS = frozenset({"relay_on", "dim_level_pct", "fault_bits"})
FULL_POWER_PCT = 100.0


def is_lamp(kind: str) -> bool:
    return kind.startswith("lamp")


def classify(kind: str, latest: Mapping[str, float], *, online: bool | None, alert_severity: str | None) -> str:
    """The map state of one device from its latest values, whether it is online, and its worst open alert."""
    if online is False:
        return "offline"
    if is_lamp(kind):
        if latest.get("fault_bits", 0.0) > 0 or alert_severity is not None:
            return "fault"
        if "relay_on" not in latest and "dim_level_pct" not in latest:
            return "unknown"
        if latest.get("relay_on", 1.0) <= 0 or latest.get("dim_level_pct", FULL_POWER_PCT) <= 0:
            return "off"
        return "dimmed" if latest.get("dim_level_pct", FULL_POWER_PCT) < FULL_POWER_PCT else "on"
    return alert_severity or "normal"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the states are decided from, read once for every device on the map."""

    lamp_values: Mapping[str, Mapping[str, float]]
    online: Mapping[str, bool]
    worst_alert: Mapping[str, str]

    def state_of(self, device_id: str, kind: str) -> str:
        return classify(kind, self.lamp_values.get(device_id, {}), online=self.online.get(device_id),
                        alert_severity=self.worst_alert.get(device_id))


async def _online(db: Database) -> dict[str, bool]:
    try:
        rows = await db.fetch_all("SELECT device_id, online FROM gateway_device_state")
    except DatabaseError:
        return {}  # no gateway has run on this database yet: nothing is known to be offline
    return {row["device_id"]: bool(row["online"]) for row in rows}


async def gather(db: Database, alerts: AlertStore, store: TelemetryStore) -> Evidence:
    """Read the lamps' latest switching values, the gateway's online states and the open alerts.

    The switching values come in one query for every device that has them (only lamps do), which is
    cheaper than naming 100,000 lamps.
    """
    values = await store.latest_of_metrics(LAMP_METRICS)
    scale = SeverityScale()
    worst: dict[str, str] = {}
    for alert in await alerts.active_alerts():
        known = worst.get(alert.device_id)
        if known is None or _rank(scale, alert.severity) > _rank(scale, known):
            worst[alert.device_id] = alert.severity
    return Evidence(values, await _online(db), worst)


def _rank(scale: SeverityScale, name: str) -> int:
    try:
        return scale.rank(name)
    except ValueError:
        return 0  # a severity of another scale: below every known one
