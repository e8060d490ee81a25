"""Password hashes in Mosquitto's ``$7$`` format (PBKDF2-HMAC-SHA512), written and checked in Python.

One format for every stored password: the broker's ``password_file`` reads it as it is, and the
database holds the same string, so no clear password is ever kept anywhere::

    $7$<iterations>$<base64 salt (12 bytes)>$<base64 PBKDF2-SHA512 (64 bytes)>

>>> stored = hash_password("s3cret", iterations=1000)
>>> verify_password("s3cret", stored), verify_password("guess", stored)
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "$7$"
# Mosquitto 2.0's own default is 101; a broker checks a hash once per connection, so a stronger
# count costs a few milliseconds per (re)connect and nothing per message.
DEFAULT_ITERATIONS = 10_000
_SALT_BYTES = 12  # as mosquitto_passwd
_HASH_BYTES = 64  # SHA-512's length


class BadHash(ValueError):
    """A stored string that is not a ``$7$`` hash."""


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$`` hash of ``password`` with a fresh random salt."""
    if not password:
        raise ValueError("an empty password cannot be hashed")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return f"{PREFIX}{iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def is_hash(value: str) -> bool:
    """True for a well-formed ``$7$`` hash (a stored password that is not one is a clear password)."""
    try:
        _split(value)
    except BadHash:
        return False
    return True


def _split(stored: str) -> tuple[int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        raise BadHash("not a $7$ password hash")
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        digest = base64.b64decode(parts[4], validate=True)
    except ValueError:
        raise BadHash("a $7$ password hash with a broken field") from None
    if iterations < 1 or not salt or len(digest) != _HASH_BYTES:
        raise BadHash("a $7$ password hash with a broken field")
    return iterations, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the ``$7$`` hash ``stored`` (compared in constant time)."""
    iterations, salt, digest = _split(stored)
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return hmac.compare_digest(candidate, digest)


def new_password() -> str:
    """A random device password: 32 URL-safe characters (192 bits), easy to paste into a device's set-up page."""
    return secrets.token_urlsafe(24)
