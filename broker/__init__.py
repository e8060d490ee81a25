"""The MQTT broker's security, generated from the registry: Mosquitto's configuration, password file
and ACL (:mod:`broker.mosquitto`), the installation's CA (:mod:`broker.pki`), a connection check."""

from __future__ import annotations

from broker.mosquitto import BrokerConfigError, BrokerOptions, acl_text, reload_broker, write_config
from broker.pki import Pki, PkiError

__all__ = ["BrokerConfigError", "BrokerOptions", "Pki", "PkiError", "acl_text", "reload_broker", "write_config"]
