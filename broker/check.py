"""One connection attempt to the broker, with every way it can fail said in one line (never the password)."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiomqtt

from broker.pki import PkiError, load_certificate, load_private_key
from streetwatch.mqtt import BrokerUrl, MqttSetupError, MqttTransport, TlsFiles, refused_login


class CheckFailed(Exception):
    """The connection failed; the message says why, naming the file or the broker."""


def _files(ca: Path | None, cert: Path | None, key: Path | None) -> None:
    try:
        if ca is not None:
            load_certificate(ca, "CA certificate")
        if (cert is None) != (key is None):
            raise CheckFailed("--cert and --key go together")
        if cert is not None and key is not None:
            load_certificate(cert, "client certificate")
            load_private_key(key, "client key")
    except PkiError as exc:
        raise CheckFailed(str(exc).replace(" (run `streetwatch pki init` first)", "")) from None


async def check_connection(url: str, *, ca: Path | None = None, cert: Path | None = None, key: Path | None = None,
                           timeout_s: float = 5.0) -> str:
    """Connect and disconnect; returns what was reached, raises :class:`CheckFailed` with the reason."""
    try:
        broker = BrokerUrl.parse(url)
    except ValueError as exc:
        raise CheckFailed(f"{exc} (use mqtts://USER:PASSWORD@HOST:PORT)") from None
    _files(ca, cert, key)
    try:
        transport = MqttTransport(broker, TlsFiles(ca, cert, key) if broker.tls else None)
    except MqttSetupError as exc:
        raise CheckFailed(str(exc)) from None
    user, tls = broker.username, broker.tls
    where = f"{broker.host}:{broker.port}"
    try:
        async with transport.client(f"streetwatch-check-{user or ''}", timeout=timeout_s):
            pass
    except aiomqtt.MqttCodeError as exc:
        if refused_login(exc):
            raise CheckFailed(f"{where} refused {user or 'an anonymous client'}: bad user name, password or "
                              "certificate (or the account was revoked)") from None
        raise CheckFailed(f"{where} refused the connection: {exc}") from None
    except ssl.SSLError as exc:
        raise CheckFailed(f"TLS with {where} failed: {exc.reason or exc}") from None
    except aiomqtt.MqttError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
            raise CheckFailed(f"TLS with {where} failed: {text}") from None
        raise CheckFailed(f"{where}: {text}") from None
    except OSError as exc:
        raise CheckFailed(f"{where}: {exc.strerror or exc}") from None
    return f"connected to {where} as {user or 'anonymous'}{' over TLS' if tls else ''}"
