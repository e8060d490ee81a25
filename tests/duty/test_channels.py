"""Each channel against a real server: aiosmtpd for e-mail, a loopback HTTP receiver that checks the
exact request WeCom, DingTalk, Feishu and the configured SMS gateway document."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import pytest
from pydantic import SecretStr

from duty.channels import DingTalkAdapter, EmailAdapter, FeishuAdapter, HttpGatewayAdapter, Outgoing, WeComAdapter
from duty.errors import DeliveryError
from streetwatch.clock import FakeClock
from streetwatch.config import HttpGatewaySettings
from tests.fixtures.receivers import Request, SmtpServer, http_receiver

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
BODY = "【红色预警】京泰路涵洞 水位620mm。确认：http://127.0.0.1/ack/x"


async def test_email_reaches_a_real_smtp_server_in_utf8_with_a_stable_message_id(smtp: SmtpServer) -> None:
    adapter = EmailAdapter(host="127.0.0.1", port=smtp.port, sender="alerts@streetwatch.example")
    await adapter.send(Outgoing("7:raised:0:wang:email", "email", "wang@example.org", "【红色预警】京泰路涵洞", BODY))
    (envelope, message), = smtp.messages
    assert envelope.mail_from == "alerts@streetwatch.example" and envelope.rcpt_tos == ["wang@example.org"]
    assert message["Subject"] == "【红色预警】京泰路涵洞"
    assert message.get_content().strip() == BODY
    assert message["Message-ID"] == EmailAdapter.message_id("7:raised:0:wang:email", "alerts@streetwatch.example")


async def test_email_to_a_server_that_is_not_there_is_a_delivery_error(smtp: SmtpServer) -> None:
    smtp.stop()
    adapter = EmailAdapter(host="127.0.0.1", port=smtp.port, sender="a@b.example", timeout_s=2)
    with pytest.raises(DeliveryError, match=f"SMTP 127.0.0.1:{smtp.port}"):
        await adapter.send(Outgoing("k", "email", "wang@example.org", "s", "b"))


def _ok(request: Request) -> tuple[int, dict[str, object]]:
    return (200, {"code": 0, "msg": "success"}) if "feishu" in request.path else (200, {"errcode": 0, "errmsg": "ok"})


async def test_wecom_robot_gets_its_documented_text_message() -> None:
    async with http_receiver(_ok) as receiver, httpx.AsyncClient() as client:
        url = f"{receiver.url}/cgi-bin/webhook/send?key=693a91f6"
        await WeComAdapter(client, FakeClock(NOW)).send(Outgoing("k", "wecom", url, "s", BODY))
    (request,) = receiver.requests
    assert (request.method, request.path, request.query) == ("POST", "/cgi-bin/webhook/send", {"key": "693a91f6"})
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"msgtype": "text", "text": {"content": BODY}}


async def test_dingtalk_signed_robot_gets_timestamp_and_sign_as_dingtalk_documents() -> None:
    secret = "SEC0123456789abcdef"
    async with http_receiver(_ok) as receiver, httpx.AsyncClient() as client:
        url = f"{receiver.url}/robot/send?access_token=abc"
        await DingTalkAdapter(client, FakeClock(NOW)).send(Outgoing("k", "dingtalk", url, "s", BODY, secret))
        await DingTalkAdapter(client, FakeClock(NOW)).send(Outgoing("k", "dingtalk", url, "s", BODY))
    signed, unsigned = receiver.requests
    stamp = int(NOW.timestamp() * 1000)
    assert signed.query["access_token"] == "abc" and signed.query["timestamp"] == str(stamp)
    # computed here from the documentation: base64(HMAC-SHA256(secret, "timestamp\nsecret")), then URL-encoded
    expected = base64.b64encode(hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest())
    raw_sign = signed.target.split("sign=")[1]
    assert "%" in raw_sign and unquote(raw_sign) == expected.decode()
    assert signed.json() == {"msgtype": "text", "text": {"content": BODY}}
    assert unsigned.query == {"access_token": "abc"}


async def test_feishu_robot_gets_its_format_and_signature() -> None:
    secret = "fs-secret"
    async with http_receiver(_ok) as receiver, httpx.AsyncClient() as client:
        url = f"{receiver.url}/open-apis/bot/v2/hook/feishu-1"
        await FeishuAdapter(client, FakeClock(NOW)).send(Outgoing("k", "feishu", url, "s", BODY, secret))
    body = receiver.requests[0].json()
    stamp = int(NOW.timestamp())
    key = f"{stamp}\n{secret}".encode()
    assert body == {"timestamp": str(stamp), "sign": base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest())
                    .decode(), "msg_type": "text", "content": {"text": BODY}}


async def test_a_robot_that_answers_an_error_code_is_a_delivery_error() -> None:
    async with http_receiver(lambda _r: (200, {"errcode": 310000, "errmsg": "sign not match"})) as receiver, \
            httpx.AsyncClient() as client:
        with pytest.raises(DeliveryError, match="sign not match"):
            await DingTalkAdapter(client, FakeClock(NOW)).send(Outgoing("k", "dingtalk", receiver.url + "/r", "s", "b"))


async def test_sms_gateway_is_configuration_url_template_headers_body_and_signature() -> None:
    async with http_receiver(lambda _r: (200, {"ok": True})) as receiver, httpx.AsyncClient() as client:
        settings = HttpGatewaySettings(url=receiver.url + "/sms/send?to={mobile}", headers={"X-Api-Key": "k1"},
                                      body='{"phone": "{mobile}", "content": "{text}", "sign": "街道办"}',
                                      secret=SecretStr("s3cret"))
        text = '水位620mm "急"\n确认'
        adapter = HttpGatewayAdapter(settings, client, FakeClock(NOW))
        await adapter.send(Outgoing("k", "sms", "+8613800138000", "", text))
    (request,) = receiver.requests
    assert request.method == "POST" and request.path == "/sms/send" and request.query == {"to": "+8613800138000"}
    assert request.headers["x-api-key"] == "k1"
    assert json.loads(request.body) == {"phone": "+8613800138000", "content": text, "sign": "街道办"}
    stamp = str(int(NOW.timestamp()))
    assert request.headers["x-timestamp"] == stamp
    assert request.headers["x-signature"] == hmac.new(b"s3cret", stamp.encode() + request.body,
                                                      hashlib.sha256).hexdigest()


async def test_sms_gateway_get_puts_the_text_in_the_url_and_a_5xx_is_a_delivery_error() -> None:
    async with http_receiver(lambda r: (503 if "fail" in r.target else 200, {})) as receiver, \
            httpx.AsyncClient() as client:
        settings = HttpGatewaySettings(url=receiver.url + "/send?m={mobile}&t={text}", method="GET")
        adapter = HttpGatewayAdapter(settings, client, FakeClock(NOW))
        await adapter.send(Outgoing("k", "sms", "+8613800138000", "", "涵洞 & 水位"))
        assert receiver.requests[0].query == {"m": "+8613800138000", "t": "涵洞 & 水位"}
        with pytest.raises(DeliveryError, match="HTTP 503"):
            await adapter.send(Outgoing("k", "sms", "+8613800138000", "", "fail"))
