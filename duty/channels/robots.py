"""Group robots of WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书), in each service's documented format.

- WeCom: ``POST {webhook}`` with ``{"msgtype": "text", "text": {"content": …}}``; answers ``{"errcode": 0}``.
- DingTalk: the same body shape; the signed variant adds ``&timestamp={ms}&sign={sign}`` to the URL, where
  sign = urlencode(base64(HMAC-SHA256(key=secret, message="{timestamp}\\n{secret}"))); answers ``{"errcode": 0}``.
- Feishu: ``{"msg_type": "text", "content": {"text": …}}``, signed with ``timestamp`` (seconds) and
  ``sign`` = base64(HMAC-SHA256(key="{timestamp}\\n{secret}", message="")) in the body; answers ``{"code": 0}``.

The same as ``printf "1700000000000\\nSECtest" | openssl dgst -sha256 -hmac SECtest -binary | base64``:

>>> dingtalk_sign(1700000000000, "SECtest")
'aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

import httpx

from duty.channels.base import Outgoing
from duty.errors import DeliveryError
from streetwatch.clock import Clock


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    return quote_plus(base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode())


def feishu_sign(timestamp_s: int, secret: str) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class _Robot:
    service = ""

    def __init__(self, client: httpx.AsyncClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock

    def request(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def accepted(self, answer: dict[str, Any]) -> bool:
        return answer.get("errcode") == 0

    async def send(self, message: Outgoing) -> None:
        url, body = self.request(message)
        try:
            response = await self.client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.service}: {type(exc).__name__}: {exc}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not isinstance(answer, dict) or not self.accepted(answer):
            raise DeliveryError(f"{self.service}: HTTP {response.status_code} {response.text[:200]!r}")


class WeComAdapter(_Robot):
    service = "wecom"

    def request(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        return message.address, {"msgtype": "text", "text": {"content": message.body}}


class DingTalkAdapter(_Robot):
    service = "dingtalk"

    def request(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        url = message.address
        if message.secret:
            stamp = int(self.clock.now().timestamp() * 1000)
            url += f"{'&' if '?' in url else '?'}timestamp={stamp}&sign={dingtalk_sign(stamp, message.secret)}"
        return url, {"msgtype": "text", "text": {"content": message.body}}


class FeishuAdapter(_Robot):
    service = "feishu"

    def request(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": message.body}}
        if message.secret:
            stamp = int(self.clock.now().timestamp())
            body = {"timestamp": str(stamp), "sign": feishu_sign(stamp, message.secret), **body}
        return message.address, body

    def accepted(self, answer: dict[str, Any]) -> bool:
        return answer.get("code", answer.get("StatusCode")) == 0
