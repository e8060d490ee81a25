"""Journal records back into readings, the same way the intake made them the first time.

MQTT records hold the payload as it arrived: it is parsed again with the device's profile and the
time it was received, so a replay gives the very readings the first parse gave. Modbus records
hold a poll's values as a telemetry-shaped JSON object (``{"ts": …, "power_w": 41.5, …}``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from device_drivers.mqtt import encode_telemetry, parse_telemetry
from device_drivers.mqtt.payload import MAX_AHEAD
from gateway.intake.directory import DeviceDirectory
from gateway.intake.journal import Record, Source
from streetwatch.readings import Reading

log = logging.getLogger(__name__)


def encode_poll(values: Mapping[str, float], ts: datetime) -> bytes:
    """A poll's values as the journal keeps them."""
    return encode_telemetry(dict(values), ts)


def decode_poll(device_id: str, payload: bytes) -> list[Reading]:
    document = json.loads(payload)
    ts = datetime.fromisoformat(document.pop("ts"))
    return [Reading(device_id, metric, ts, float(value)) for metric, value in document.items()]


class RecordDecoder:
    """Callable: a journal record → its readings (``[]``, logged once per device, when that cannot be done)."""

    def __init__(self, directory: DeviceDirectory, *, max_payload_bytes: int,
                 max_ahead: timedelta = MAX_AHEAD) -> None:
        self.directory = directory
        self.max_payload_bytes = max_payload_bytes
        self.max_ahead = max_ahead  # as the intake judged it on arrival: the same readings come back
        self.undecodable = 0
        self._logged: set[str] = set()

    def __call__(self, record: Record) -> list[Reading]:
        if record.source is Source.MODBUS_POLL:
            try:
                return decode_poll(record.device_id, record.payload)
            except (ValueError, KeyError, TypeError) as exc:
                return self._cannot(record, f"damaged poll record: {exc}")
        entry = self.directory.get(record.device_id)
        profile = self.directory.profile(entry.profile) if entry is not None else None
        if profile is None or profile.mqtt is None:
            return self._cannot(record, "the device is no longer registered with an MQTT profile")
        received_at = datetime.fromtimestamp(record.received_at, UTC)
        return parse_telemetry(record.device_id, record.payload, profile, received_at, self.max_payload_bytes,
                               self.max_ahead).readings

    def _cannot(self, record: Record, why: str) -> list[Reading]:
        self.undecodable += 1
        if record.device_id not in self._logged and len(self._logged) < 10_000:
            self._logged.add(record.device_id)
            log.error("journal record %d of %s cannot be replayed: %s", record.seq, record.device_id, why,
                      extra={"device_id": record.device_id})
        return []
