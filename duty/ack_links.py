"""One-time signed acknowledgement links, short enough for an SMS.

A link is ``{public_url}/ack/{token}``; the token is the alert id and the expiry (base 36), a random
nonce, and an HMAC-SHA256 over them (truncated to 96 bits: forging one still takes 2**96 tries against
a server that answers slowly). The nonce is recorded with the recipient when the link is handed out,
and marked used by the first acknowledgement, so a link works once, only until it expires, and says
who acknowledged.

>>> signer = AckSigner(b"k" * 32)
>>> token = signer.sign(42, expires=1_800_000_000, nonce="AbCdEfGh")
>>> signer.verify(token, now=1_700_000_000)
AckClaim(alert_id=42, expires=1800000000, nonce='AbCdEfGh')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from duty.errors import AckLinkError

_TOKEN = re.compile(r"^([0-9a-z]{1,13})-([0-9a-z]{1,13})-([A-Za-z0-9_-]{8})-([A-Za-z0-9_-]{16})$")


@dataclass(frozen=True, slots=True)
class AckClaim:
    alert_id: int
    expires: int  # seconds since the epoch
    nonce: str


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


class AckSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("an acknowledgement key needs at least 16 bytes")
        self._key = key

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(digest).decode()

    def sign(self, alert_id: int, *, expires: int, nonce: str | None = None) -> str:
        body = f"{_b36(alert_id)}-{_b36(expires)}-{nonce or new_nonce()}"
        return f"{body}-{self._mac(body)}"

    def verify(self, token: str, *, now: float) -> AckClaim:
        """The claim of a genuine, unexpired token; :class:`AckLinkError` otherwise (it does not say which)."""
        found = _TOKEN.match(token)
        if found is None:
            raise AckLinkError("this acknowledgement link is not valid")
        body = "-".join(found.group(1, 2, 3))  # not a split on '-': the nonce and the MAC may hold one
        if not hmac.compare_digest(self._mac(body), found.group(4)):
            raise AckLinkError("this acknowledgement link is not valid")
        claim = AckClaim(int(found.group(1), 36), int(found.group(2), 36), found.group(3))
        if claim.expires <= now:
            raise AckLinkError("this acknowledgement link has expired")
        return claim


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(6)).decode()


def load_key(configured: str, data_dir: Path) -> bytes:
    """The configured key, else one kept in ``data_dir/ack.key`` (made once, readable by the owner only)."""
    if configured:
        return configured.encode()
    path = data_dir / "ack.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="ascii")
    return path.read_text(encoding="ascii").strip().encode()


def epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
