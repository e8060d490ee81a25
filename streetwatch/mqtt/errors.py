"""What can stop the MQTT transport from being made: one line each, shown by the CLI with exit code 2."""

from __future__ import annotations


class MqttSetupError(ValueError):
    """The MQTT settings cannot work (a bad URL, a missing CA file, an unreadable key): one line."""


class MqttInternalsError(MqttSetupError):
    """The installed aiomqtt or paho-mqtt is not a version whose internals the intake knows."""


# CONNACK codes of MQTT 3.1.1 (4, 5) and 5 (134, 135) that mean "who you are was not accepted".
_REFUSED_LOGIN = frozenset({4, 5, 134, 135})


def refused_login(exc: BaseException) -> bool:
    """True when ``exc`` is the broker's CONNACK refusing the user name, password or certificate: a setting
    to fix (or an account to issue), not an outage to wait out."""
    code = getattr(exc, "rc", None)
    return getattr(code, "value", code) in _REFUSED_LOGIN  # an int in MQTT 3.1.1, a ReasonCode in 5


def failure_reason(exc: BaseException, username: str | None) -> str:
    """Why a client is not connected, in one line for ``/health`` and the log (never the password).
    A refused login says so plainly: Mosquitto answers a wrong password with "Not authorized"."""
    if refused_login(exc):
        return (f"the broker refused {username or 'an anonymous client'}: bad user name, password or certificate "
                "(or the account was revoked)")
    return str(exc) or type(exc).__name__
