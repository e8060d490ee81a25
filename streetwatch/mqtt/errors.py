"""What can stop the MQTT transport from being made: one line each, shown by the CLI with exit code 2."""

from __future__ import annotations


class MqttSetupError(ValueError):
    """The MQTT settings cannot work (a bad URL, a missing CA file, an unreadable key): one line."""


class MqttInternalsError(MqttSetupError):
    """The installed aiomqtt or paho-mqtt is not a version whose internals the intake knows."""
