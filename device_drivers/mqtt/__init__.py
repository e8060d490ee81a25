"""The device side of the MQTT contract (docs/mqtt.md): telemetry parsing, status, commands, acks."""

from device_drivers.mqtt.messages import (
    Command,
    CommandAck,
    Status,
    encode_message,
    encode_telemetry,
    parse_ack,
    parse_command,
    parse_status,
)
from device_drivers.mqtt.payload import Rejection, RejectReason, TelemetryParse, parse_telemetry

__all__ = [
    "Command", "CommandAck", "RejectReason", "Rejection", "Status", "TelemetryParse", "encode_message",
    "encode_telemetry", "parse_ack", "parse_command", "parse_status", "parse_telemetry",
]
