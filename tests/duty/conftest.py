"""Fixtures of the duty tests: a real SMTP server (aiosmtpd) on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.receivers import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
