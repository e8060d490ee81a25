"""The broker's address, parsed once from ``mqtt_url``: scheme, host, port, credentials.

``mqtt://`` (or ``tcp://``) is plaintext on 1883 by default, ``mqtts://`` is TLS on 8883.
Credentials in the URL are percent-decoded and never shown: :attr:`BrokerUrl.where` and ``repr``
leave them out.

>>> url = BrokerUrl.parse("mqtts://gw:s%40cret@broker.example:8884")
>>> url.tls, url.host, url.port, url.username, url.password
(True, 'broker.example', 8884, 'gw', 's@cret')
>>> url.where
'mqtts://broker.example:8884'
>>> BrokerUrl.parse("mqtt://127.0.0.1").port
1883
>>> BrokerUrl.parse("http://x")
Traceback (most recent call last):
ValueError: unsupported scheme 'http'; use mqtt://[user:password@]host[:port] or mqtts://… for TLS
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PLAIN_PORT = 1883
TLS_PORT = 8883
_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """Where the broker is and how to log in; ``tls`` from the scheme."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """``mqtt[s]://[user:password@]host[:port]``; ``ValueError`` with a one-line reason otherwise."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            # The scheme only, never the URL: it may hold a password.
            raise ValueError(f"unsupported scheme {parts.scheme or '(none)'!r}; use mqtt://[user:password@]host[:port] "
                             "or mqtts://… for TLS")
        if not parts.hostname:
            raise ValueError("no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        tls = _SCHEMES[scheme]
        return cls(parts.hostname, port or (TLS_PORT if tls else PLAIN_PORT), tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    @property
    def where(self) -> str:
        """The URL without credentials, for logs and errors."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
