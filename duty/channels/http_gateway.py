"""SMS and voice calls through a generic HTTP gateway: the provider's part is configuration.

``[duty.sms]`` and ``[duty.voice]`` are each a gateway of their own (a voice provider's API is not its SMS
API), with the same form. The URL template and the body template get ``{mobile}`` and ``{text}``
(URL-encoded in the URL, JSON-escaped in the body); with a secret, ``X-Timestamp`` (seconds) and
``X-Signature`` (hex HMAC-SHA256 of the timestamp followed by the body) are added. Any 2xx answer means
the gateway took it. The text is the message's SMS for ``sms`` and its short spoken text for ``voice``
(:func:`duty.templates.render_voice`); the outbox row holds the right one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal
from urllib.parse import quote

import httpx

from duty.channels.base import Outgoing
from duty.errors import DeliveryError
from streetwatch.clock import Clock
from streetwatch.config import HttpGatewaySettings


class HttpGatewayAdapter:
    def __init__(self, settings: HttpGatewaySettings, client: httpx.AsyncClient, clock: Clock,
                 channel: Literal["sms", "voice"] = "sms") -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self.channel = channel

    def request(self, message: Outgoing) -> tuple[str, dict[str, str], bytes]:
        s = self.settings
        url = s.url.replace("{mobile}", quote(message.address, safe="")).replace("{text}", quote(message.body, safe=""))
        body = b""
        if s.method == "POST":
            escaped = {k: json.dumps(v, ensure_ascii=False)[1:-1] for k, v in
                       (("mobile", message.address), ("text", message.body))}
            body = s.body.replace("{mobile}", escaped["mobile"]).replace("{text}", escaped["text"]).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **s.headers}
        secret = s.secret.get_secret_value()
        if secret:
            stamp = str(int(self.clock.now().timestamp()))
            headers["X-Timestamp"] = stamp
            headers["X-Signature"] = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
        return url, headers, body

    async def send(self, message: Outgoing) -> None:
        url, headers, body = self.request(message)
        try:
            response = await self.client.request(self.settings.method, url, headers=headers,
                                                 content=body or None, timeout=self.settings.timeout_s)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.channel} gateway: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"{self.channel} gateway: HTTP {response.status_code} {response.text[:200]!r}")
