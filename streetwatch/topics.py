"""The MQTT topic contract (docs/mqtt.md). Devices, simulators and the gateway all build topics here.

    streetwatch/devices/{device_id}/telemetry   JSON readings, QoS 1
    streetwatch/devices/{device_id}/status      "online" / "offline", retained (also the last will)
    streetwatch/devices/{device_id}/cmd         JSON command to the device
    streetwatch/devices/{device_id}/cmd/ack     JSON acknowledgement from the device
    streetwatch/alerts/{severity}/{device_id}   JSON alert notifications
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

PREFIX = "streetwatch"
DEVICES = f"{PREFIX}/devices"

TELEMETRY_SUBSCRIPTION = f"{DEVICES}/+/telemetry"
STATUS_SUBSCRIPTION = f"{DEVICES}/+/status"
ACK_SUBSCRIPTION = f"{DEVICES}/+/cmd/ack"
ONLINE = b"online"
OFFLINE = b"offline"

# A device id (docs/mqtt.md): what the registry accepts, so a topic with any other id is refused
# before its id is kept anywhere.
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

DeviceTopicKind = Literal["telemetry", "status", "cmd", "cmd/ack"]


def telemetry(device_id: str) -> str:
    return f"{DEVICES}/{device_id}/telemetry"


def status(device_id: str) -> str:
    return f"{DEVICES}/{device_id}/status"


def command(device_id: str) -> str:
    return f"{DEVICES}/{device_id}/cmd"


def command_ack(device_id: str) -> str:
    return f"{DEVICES}/{device_id}/cmd/ack"


def alert(severity: str, device_id: str) -> str:
    return f"{PREFIX}/alerts/{severity}/{device_id}"


def shared(subscription: str, group: str | None) -> str:
    """An MQTT v5 shared subscription (``$share/group/…``) so several gateways split the load."""
    return f"$share/{group}/{subscription}" if group else subscription


class DeviceTopic(NamedTuple):
    """A device's topic, parsed (a named tuple: made for every message the gateway receives)."""

    device_id: str
    kind: DeviceTopicKind


def parse_device_topic(topic: str) -> DeviceTopic | None:
    """``streetwatch/devices/LP-1/telemetry`` → ``DeviceTopic("LP-1", "telemetry")``; None if not ours."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != PREFIX or parts[1] != "devices" or not parts[2]:
        return None
    rest = parts[3] if len(parts) == 4 else "/".join(parts[3:])
    if rest in ("telemetry", "status", "cmd", "cmd/ack"):
        return DeviceTopic(parts[2], rest)  # type: ignore[arg-type]
    return None


def valid_device_id(device_id: str) -> bool:
    """``LP-1`` → True; an empty, too long (over 64 characters) or otherwise spelled id → False."""
    return len(device_id) <= 64 and DEVICE_ID_PATTERN.match(device_id) is not None
