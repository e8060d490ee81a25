"""One redaction for every place that shows a setting, a URL or a line that may hold one."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from streetwatch.redact import REDACTED, RedactingFilter, redact_settings, redact_text, redact_url


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://sw:pa55@db:5432/sw", "postgresql://sw:***@db:5432/sw"),
    ("postgresql://db/sw?user=sw&password=pa55&sslmode=require", "postgresql://db/sw?user=sw&password=***&sslmode=require"),
    ("mqtt://:pa55@broker", "mqtt://:***@broker"),
    ("mqtt://gateway@broker:1883", "mqtt://gateway@broker:1883"),
    ("https://h.example/x?access_token=t0k&api_key=k3y&n=1", "https://h.example/x?access_token=***&api_key=***&n=1"),
    ("sqlite:///var/lib/sw.db", "sqlite:///var/lib/sw.db"),
    ("postgresql://sw:p%40ss@db/sw", "postgresql://sw:***@db/sw"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_urls_in_a_line() -> None:
    line = "cannot reach postgresql://sw:pa55@db:5432/sw (and mqtt://u:s3c@b:1883): refused"
    assert redact_text(line) == "cannot reach postgresql://sw:***@db:5432/sw (and mqtt://u:***@b:1883): refused"


def test_redact_settings_by_name_and_by_value() -> None:
    shown = redact_settings({
        "database_url": "postgresql://sw:pa55@db/sw",
        "webhooks": [{"url": "https://h/x", "secret": SecretStr("s3c"), "timeout_s": 5.0}],
        "api_token": "t0k", "broker_password": "", "password_file": None, "timezone": "UTC",
    })
    assert shown == {
        "database_url": "postgresql://sw:***@db/sw",
        "webhooks": [{"url": "https://h/x", "secret": REDACTED, "timeout_s": 5.0}],
        "api_token": REDACTED, "broker_password": "", "password_file": None, "timezone": "UTC",
    }


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.redact")
    log.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        log.info("connecting to %s", "mqtt://gw:pa55@broker:1883")
    assert caplog.messages == ["connecting to mqtt://gw:***@broker:1883"]
