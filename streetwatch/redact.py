"""Secrets kept out of what a person or a log collector sees: settings, URLs, and lines that hold URLs.

One place decides what is secret, so ``config show``, error lines and the logs agree:

- a setting whose name says it holds a secret (``password``, ``secret``, ``token``, ``api_key``, …) or
  whose value is a pydantic ``SecretStr``;
- the password of a URL (``scheme://user:password@host``), and query parameters with such a name
  (``?password=…``, ``?access_token=…``), as PostgreSQL and webhook URLs may carry them.

The rest of a URL stays, so an operator can still see which host and user are used.

>>> redact_url("postgresql://sw:pa55@db:5432/sw?sslmode=require")
'postgresql://sw:***@db:5432/sw?sslmode=require'
>>> redact_text("cannot connect to mqtt://gw:pa55@broker:1883: refused")
'cannot connect to mqtt://gw:***@broker:1883: refused'
>>> redact_settings({"mqtt_url": "mqtt://broker", "secret": "s3c", "timeout_s": 5.0})
{'mqtt_url': 'mqtt://broker', 'secret': '***', 'timeout_s': 5.0}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

REDACTED = "***"
_SECRET_NAME = re.compile(r"passw(or)?d|passphrase|secret|token|api_?key|private_?key|credential", re.IGNORECASE)
# scheme://… up to whitespace or a closing quote or bracket: URLs as they appear inside a message.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]]+")
_QUERY_PAIR = re.compile(r"(?P<name>[^&=;]+)=(?P<value>[^&;]*)")


def is_secret_name(name: str) -> bool:
    """Whether a setting or query parameter of this name holds a secret (``db_password``, ``token``)."""
    return _SECRET_NAME.search(name) is not None


def redact_url(url: str) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon and password:
            netloc = f"{user}:{REDACTED}@{hostport}"
    query = _QUERY_PAIR.sub(lambda m: f"{m['name']}={REDACTED}" if is_secret_name(m["name"]) and m["value"]
                            else m[0], parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m[0]), text)


def redact_settings(value: Any, name: str = "") -> Any:
    """A copy of dumped settings (dicts, lists, values) with secrets replaced; an unset secret stays unset."""
    if isinstance(value, Mapping):
        return {key: redact_settings(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_settings(item, name) for item in value]
    if isinstance(value, SecretStr):
        return REDACTED if value.get_secret_value() else ""
    if value in (None, "") or isinstance(value, bool | int | float):
        return value
    if is_secret_name(name):
        return REDACTED
    return redact_text(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Redacts URLs in a log record's message before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_text(message), None
        return True
