"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.web.world import World
from web.openapi import document, render

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_committed_document_matches_the_app() -> None:
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == document(), (
        "docs/openapi.json is stale: run python -m web.openapi docs/openapi.json")
    assert COMMITTED.read_text(encoding="utf-8") == render()
    assert document()["openapi"].startswith("3.1")


@pytest.mark.services
def test_the_live_server_serves_it(world: World) -> None:
    with world.client() as anonymous:
        served = anonymous.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == document()
