"""The one door to the broker: every MQTT client the project opens is made here.

:class:`MqttTransport` is built once from the settings (``mqtt_url`` and ``[mqtt] ca_file``,
``cert_file``, ``key_file``). It parses the URL once, loads the TLS material once (a bad CA file
or key is a one-line :class:`MqttSetupError` before anything connects), checks the library
internals the intake relies on (:mod:`streetwatch.mqtt.internals`), and then hands out clients:
the gateway's intake, the alert publisher, the control channel, the device probe, the simulators
and the demo all connect with the same host, port, credentials and TLS settings. So an operator
who configures ``mqtts://`` gets TLS on every connection, not only on the intake's.

Each long-lived client reports whether it is connected, and why not, to a :class:`ClientHealth`
of the transport (:meth:`MqttTransport.health`); ``/health`` and the metrics list them all.

>>> transport = MqttTransport(BrokerUrl.parse("mqtt://127.0.0.1:1883"))
>>> transport.where
'mqtt://127.0.0.1:1883'
>>> health = transport.health("alerts"); health.down("connection refused"); transport.health("alerts").reason
'connection refused'
"""

from __future__ import annotations

import copy
import dataclasses
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiomqtt

from streetwatch.backoff import Backoff
from streetwatch.mqtt import internals
from streetwatch.mqtt.errors import MqttSetupError
from streetwatch.mqtt.url import BrokerUrl


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Files for ``mqtts://``: the CA that signed the broker's certificate (default: the system's CAs)
    and an optional client certificate and key for brokers that require one."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def any(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None or self.key_file is not None


class _TlsSettings(Protocol):
    @property
    def ca_file(self) -> Path | None: ...
    @property
    def cert_file(self) -> Path | None: ...
    @property
    def key_file(self) -> Path | None: ...


class BrokerSettings(Protocol):
    """What the transport reads of :class:`streetwatch.config.Settings` (named here: the settings import this
    package to check ``mqtt_url``)."""

    @property
    def mqtt_url(self) -> str: ...
    @property
    def mqtt(self) -> _TlsSettings: ...


@dataclass
class ClientHealth:
    """Whether one of the process's MQTT clients is connected, and if not, why (shown by ``/health``)."""

    name: str
    connected: bool = False
    reason: str | None = "not connected yet"
    connects: int = 0

    def up(self) -> None:
        self.connected = True
        self.reason = None
        self.connects += 1

    def down(self, reason: str) -> None:
        self.connected = False
        self.reason = reason


def _readable(path: Path, setting: str) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise MqttSetupError(f"[mqtt] {setting} {path}: {exc.strerror or exc}") from None


def tls_context(url: BrokerUrl, files: TlsFiles) -> ssl.SSLContext | None:
    """The TLS context for ``url`` (None for plaintext); :class:`MqttSetupError` for files that do not load."""
    if not url.tls:
        if files.any:
            raise MqttSetupError(f"[mqtt] ca_file/cert_file/key_file are set but mqtt_url is {url.where} "
                                 "(plaintext): use mqtts://… for TLS")
        return None
    if files.key_file is not None and files.cert_file is None:
        raise MqttSetupError("[mqtt] key_file is set without cert_file (the client certificate it belongs to)")
    if files.ca_file is not None:
        _readable(files.ca_file, "ca_file")
    try:
        context = ssl.create_default_context(cafile=str(files.ca_file) if files.ca_file is not None else None)
    except ssl.SSLError as exc:
        raise MqttSetupError(f"[mqtt] ca_file {files.ca_file}: not a PEM CA certificate ({exc.reason or exc})") \
            from None
    if files.cert_file is not None:
        _readable(files.cert_file, "cert_file")
        if files.key_file is not None:
            _readable(files.key_file, "key_file")
        try:
            context.load_cert_chain(str(files.cert_file), str(files.key_file) if files.key_file else None)
        except ssl.SSLError as exc:
            raise MqttSetupError(f"[mqtt] cert_file {files.cert_file} / key_file {files.key_file}: cannot load the "
                                 f"client certificate and its key ({exc.reason or exc})") from None
    return context


class MqttTransport:
    """Makes the process's MQTT clients (see the module doc); building it does no network I/O."""

    def __init__(self, url: BrokerUrl, tls: TlsFiles | None = None) -> None:
        self.url = url
        self.tls_files = tls or TlsFiles()
        self._tls = tls_context(url, self.tls_files)
        internals.check_once()
        self._health: dict[str, ClientHealth] = {}

    @classmethod
    def from_url(cls, mqtt_url: str, tls: TlsFiles | None = None) -> MqttTransport:
        try:
            url = BrokerUrl.parse(mqtt_url)
        except ValueError as exc:
            raise MqttSetupError(f"mqtt_url: {exc}") from None
        return cls(url, tls)

    @classmethod
    def from_settings(cls, settings: BrokerSettings, mqtt_url: str | None = None) -> MqttTransport:
        """The transport for ``settings``. ``mqtt_url`` overrides the setting (a ``--mqtt-url`` option); the
        ``[mqtt]`` TLS files then apply only if it is ``mqtts://`` too."""
        mqtt = settings.mqtt
        files = TlsFiles(mqtt.ca_file, mqtt.cert_file, mqtt.key_file)
        if mqtt_url is not None and not mqtt_url.lower().startswith(("mqtts:", "ssl:")):
            files = TlsFiles()
        return cls.from_url(mqtt_url or settings.mqtt_url, files)

    def as_user(self, username: str, password: str) -> MqttTransport:
        """The same broker and TLS context (loaded once), logging in as ``username``: a simulated device with
        its own credentials, a test's operator."""
        other = copy.copy(self)
        other.url = dataclasses.replace(self.url, username=username, password=password)
        return other

    @property
    def where(self) -> str:
        """``mqtt[s]://host:port``, without credentials."""
        return self.url.where

    def client(self, identifier: str | None = None, **options: Any) -> aiomqtt.Client:
        """A new client of this broker (not connected: ``async with`` it). ``options`` go to ``aiomqtt.Client``
        (protocol, will, clean_session, keepalive, timeout, …); address, credentials and TLS are the transport's."""
        return aiomqtt.Client(self.url.host, self.url.port, username=self.url.username, password=self.url.password,
                              identifier=identifier, tls_context=self._tls, **options)

    @staticmethod
    def reconnect_backoff() -> Backoff:
        """The backoff every long-lived client reconnects with: 0.5 s doubling to 30 s, spread ±20 %."""
        return Backoff(initial_s=0.5, max_s=30.0, jitter=0.2)

    def health(self, name: str) -> ClientHealth:
        """The health record of the client called ``name`` (made on first use)."""
        record = self._health.get(name)
        if record is None:
            record = self._health[name] = ClientHealth(name)
        return record

    @property
    def clients(self) -> list[ClientHealth]:
        """Every long-lived client's health, in the order they were registered."""
        return list(self._health.values())
