"""A store on each backend (via the ``database_url`` param fixture), opened per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from streetwatch.config import DatabaseUrl, StoreSettings
from telemetry_store import TelemetryStore, open_store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[TelemetryStore]:
    async with open_store(DatabaseUrl.parse(database_url), StoreSettings(), connect_timeout_s=5) as opened:
        yield opened
