"""Webhooks against a real local HTTP server: exact body, HMAC signature, retries, routing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rules.notifier import Notifier
from rules.payload import encode, transition_payload
from rules.webhooks import WebhookSender
from streetwatch.clock import FakeClock
from streetwatch.config import ConfigError, NotificationSettings, WebhookSettings, load_settings
from tests.rules.http_receiver import HttpReceiver
from tests.rules.support import transition

SECRET = "kf8-duty-room"


def hook(url: str, **overrides: object) -> WebhookSettings:
    return WebhookSettings.model_validate({"url": url, "secret": SECRET, "backoff_initial_s": 0.01,
                                           "backoff_max_s": 0.05, **overrides})


def receiver_accepts(headers: dict[str, str], body: bytes, now: float, *, max_age_s: float = 300) -> bool:
    """What docs/rules.md tells a receiver to do, written from the docs, not from the sender's code."""
    timestamp = headers["x-streetwatch-timestamp"]
    expected = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(now - int(timestamp)) <= max_age_s
    return fresh and hmac.compare_digest(expected, headers["x-streetwatch-signature"])


async def test_the_receiver_gets_the_exact_body_and_a_valid_signature() -> None:
    body = encode(transition_payload(transition("raised", "red")))
    clock = FakeClock(datetime(2026, 12, 6, 11, 30, tzinfo=UTC))
    async with HttpReceiver() as receiver:
        async with WebhookSender(hook(receiver.url), clock=clock) as sender:
            sender.send(body, "raised")
            (request,) = await receiver.wait_for(1)
        assert (request.method, request.path) == ("POST", "/hook")
        assert request.body == body
        assert request.headers["x-streetwatch-timestamp"] == str(int(clock.now().timestamp()))
        now = clock.now().timestamp()
        assert receiver_accepts(request.headers, request.body, now)
        # Replayed ten minutes later, or with the body or the timestamp changed, it is refused.
        assert not receiver_accepts(request.headers, request.body, now + 600)
        assert not receiver_accepts(request.headers, request.body.replace(b"red", b"yellow"), now)
        moved = {**request.headers, "x-streetwatch-timestamp": str(int(now) + 600)}
        assert not receiver_accepts(moved, request.body, now + 600)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-streetwatch-event"] == "raised"
        document = json.loads(request.body)
        assert (document["rule"], document["device"], document["severity"], document["state"]) == (
            "level", "CG-1", "red", "raised")
        assert document["location"] == {"latitude": 31.2, "longitude": 121.4, "landmark": "Xujiahui underpass"}
        assert (document["value"], document["threshold"]) == (812.0, 800.0)


async def test_server_errors_are_retried_with_the_same_delivery_id() -> None:
    async with HttpReceiver(statuses=[503, 500, 200]) as receiver:
        async with WebhookSender(hook(receiver.url)) as sender:
            sender.send(b'{"n":1}', "raised")
            requests = await receiver.wait_for(3)
            await sender.join()
        assert [r.body for r in requests] == [b'{"n":1}'] * 3
        assert len({r.headers["x-streetwatch-delivery"] for r in requests}) == 1
        # each attempt is signed when it is made, so a retry an hour later is not stale
        assert all(receiver_accepts(r.headers, r.body, time.time()) for r in requests)
        assert (sender.delivered, sender.retries, sender.failed) == (1, 2, 0)


async def test_a_client_error_is_final_and_attempts_are_bounded() -> None:
    async with HttpReceiver(statuses=[400, 503, 503, 503]) as receiver:
        async with WebhookSender(hook(receiver.url, max_attempts=3)) as sender:
            sender.send(b"1", "raised")  # 400: not retried
            sender.send(b"2", "raised")  # 503 three times: given up
            await sender.join()
        assert [r.body for r in receiver.requests] == [b"1", b"2", b"2", b"2"]
        assert (sender.delivered, sender.failed, sender.retries) == (0, 2, 2)


async def test_an_unreachable_receiver_does_not_hold_up_shutdown() -> None:
    async with HttpReceiver() as receiver:
        url = receiver.url
    # the server is gone: connection refused, retried, then the sender stops within its drain time
    async with WebhookSender(hook(url, backoff_initial_s=5, backoff_max_s=5), drain_timeout_s=0.2) as sender:
        sender.send(b"x", "raised")
    assert sender.delivered == 0


async def test_routes_by_severity_and_site() -> None:
    async with HttpReceiver() as red_only, HttpReceiver() as district_3:
        settings = NotificationSettings(mqtt=False, webhooks=[
            hook(red_only.url, severities=["red"]), hook(district_3.url, sites=["district-3"])])
        async with Notifier(settings, None) as notifier:
            await notifier.notify_unstored(transition("raised", "red", site="district-9"))
            await notifier.notify_unstored(transition("raised", "yellow", site="district-3"))
            await notifier.notify_unstored(transition("raised", "orange", site="district-1"))
            await notifier.join_webhooks()
        assert [json.loads(r.body)["severity"] for r in red_only.requests] == ["red"]
        assert [json.loads(r.body)["severity"] for r in district_3.requests] == ["yellow"]


def test_notification_settings_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREETWATCH_CONFIG", raising=False)
    config = tmp_path / "streetwatch.toml"
    config.write_text('[notifications]\nreminder_interval_s = 600\n\n[[notifications.webhooks]]\n'
                      'url = "https://duty.example.org/hook"\nsecret = "s3cret"\nseverities = ["red"]\n')
    webhook = load_settings(config).notifications.webhooks[0]
    assert (webhook.url, webhook.secret.get_secret_value(), webhook.severities) == (
        "https://duty.example.org/hook", "s3cret", ["red"])
    assert "s3cret" not in str(load_settings(config).model_dump())  # `config show` does not print it
    config.write_text('[[notifications.webhooks]]\nurl = "ftp://duty.example.org"\n')
    with pytest.raises(ConfigError, match=r"notifications\.webhooks\.0\.url \(in .*\): 'ftp://duty.example.org' is "
                                          r"not an http:// or https:// URL"):
        load_settings(config)
