"""Voice calls are a channel of their own: ``[duty.voice]`` is its own HTTP gateway (URL template, body,
signature) and the call says a short spoken text, not the SMS; without ``[duty.voice]`` nothing is called."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from duty.ack_links import AckSigner
from duty.delivery import Deliverer
from duty.escalation import Escalator
from duty.outbox import Outbox
from duty.places import registry_places
from duty.service import adapters
from rules.alerts import AlertEvent, AlertLocation, AlertTransition
from streetwatch.clock import FakeClock
from streetwatch.config import ConfigError, DatabaseUrl, DutySettings, HttpGatewaySettings, Settings, load_settings
from streetwatch.database import open_database
from tests.duty.world import DUTY_FILE, START, city
from tests.fixtures.receivers import http_receiver

VOICE_FIRST = DUTY_FILE.replace("{notify: on_duty, up: 0, wait: 2m, channels: [sms, email]}",
                                "{notify: on_duty, up: 0, wait: 2m, channels: [voice, sms]}")
SPOKEN = ("城市防汛值班通知。红色预警，京泰路下穿涵洞，水位820毫米，10分钟上涨35毫米。"
          "立即封闭道路，派泵排水。请在短信中确认。")


async def _first_step(tmp_path: Path, duty: DutySettings, clock: FakeClock) -> list[tuple[str, str, str]]:
    """Raise a red alert at CUL-7 and run the first step; each outbox row's (channel, sent, last error)."""
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/v.db")) as db, httpx.AsyncClient() as client:
        roster, registry, alerts = await city(db, VOICE_FIRST)
        await roster.contacts.add("chen", "voice", "13800000001")
        outbox = Outbox(db)
        escalator = Escalator(roster, alerts, outbox, AckSigner(b"v" * 32), registry_places(registry), clock=clock,
                              public_url="https://sw.example.cn")
        settings = Settings(data_dir=tmp_path, duty=duty)
        deliverer = Deliverer(outbox, adapters(settings, client, clock), clock=clock)
        await alerts.apply(AlertTransition(
            seq=1, event=AlertEvent.raised, rule="culvert-water-level", device_id="CUL-7", severity="red",
            previous_severity=None, at=clock.now(), device_kind="culvert_gauge", metric="water_level_mm",
            value=820.0, threshold=800.0, location=AlertLocation(23.16, 113.27, "京泰路下穿涵洞"),
            context={"rise_10min": 35.0}))
        await escalator.tick()
        await deliverer.run_once()
        rows = await db.fetch_all("SELECT channel, sent_at, last_error FROM duty_outbox ORDER BY id")
        return [(str(r["channel"]), "sent" if r["sent_at"] else "", str(r["last_error"])) for r in rows]


async def test_a_voice_call_goes_to_its_own_gateway_with_the_spoken_text(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms, \
            http_receiver(lambda _r: (200, {"code": "OK"})) as voice:
        duty = DutySettings(
            sms=HttpGatewaySettings(url=sms.url + "/sms", body='{"to": "{mobile}", "text": "{text}"}'),
            voice=HttpGatewaySettings(url=voice.url + "/voice/call?callee={mobile}", headers={"X-App": "sw"},
                                      body='{"callee": "{mobile}", "tts": "{text}", "playTimes": 2}',
                                      secret=SecretStr("voice-key")))
        outcome = await _first_step(tmp_path, duty, clock)
    assert outcome == [("voice", "sent", ""), ("sms", "sent", "")]
    (call,) = voice.requests
    assert (call.method, call.path, call.query) == ("POST", "/voice/call", {"callee": "+8613800000001"})
    assert json.loads(call.body) == {"callee": "+8613800000001", "tts": SPOKEN, "playTimes": 2}
    stamp = str(int(START.timestamp()))
    assert call.headers["x-app"] == "sw" and call.headers["x-timestamp"] == stamp
    assert call.headers["x-signature"] == hmac.new(b"voice-key", stamp.encode() + call.body,
                                                   hashlib.sha256).hexdigest()
    (text,) = sms.requests  # the SMS carries the link to acknowledge; the call has none
    assert text.json()["text"].startswith("【红色预警】京泰路下穿涵洞") and "/ack/" in text.json()["text"]
    assert "http" not in call.json()["tts"]


async def test_without_a_voice_gateway_a_call_is_given_up_not_sent_as_an_sms(tmp_path: Path) -> None:
    async with http_receiver(lambda _r: (200, {"ok": True})) as sms:
        duty = DutySettings(sms=HttpGatewaySettings(url=sms.url + "/sms"))
        outcome = await _first_step(tmp_path, duty, FakeClock(START))
    assert outcome == [("voice", "", "no voice channel is configured"), ("sms", "sent", "")]
    assert len(sms.requests) == 1


def test_a_gateway_with_a_bad_url_is_one_clear_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "streetwatch.toml"
    config.write_text('[duty.voice]\nurl = "voice.example.cn/call?to={mobile}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert str(caught.value) == (f"duty.voice.url (in {config}): 'voice.example.cn/call?to={{mobile}}' is not an "
                                 "http:// or https:// URL")
