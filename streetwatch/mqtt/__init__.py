"""The project's one way to the MQTT broker: a parsed URL and a transport that makes every client."""

from __future__ import annotations

from streetwatch.mqtt.errors import MqttInternalsError, MqttSetupError, refused_login
from streetwatch.mqtt.link import MqttLink
from streetwatch.mqtt.transport import ClientHealth, MqttTransport, TlsFiles, tls_context
from streetwatch.mqtt.url import BrokerUrl

__all__ = ["BrokerUrl", "ClientHealth", "MqttInternalsError", "MqttLink", "MqttSetupError", "MqttTransport", "TlsFiles",
           "refused_login", "tls_context"]
