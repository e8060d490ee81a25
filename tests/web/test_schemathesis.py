"""Schemathesis runs the committed OpenAPI document against the live server: no 500 on any operation,
every answer's status, content type and body as the document says.

The event stream never ends, so it is left out here; tests/web/test_events.py covers it. Requests go
through httpx: schemathesis' own requests transport trips over the urllib3 replacement that
grafana-client's HTTP library installs.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.world import World

pytestmark = pytest.mark.services

SCHEMA = schemathesis.openapi.from_path(Path(__file__).parents[2] / "docs" / "openapi.json").exclude(
    path="/api/v1/events")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@SCHEMA.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_document(case: schemathesis.Case, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['root-admin']}"}
    sent = case.as_transport_kwargs(base_url=world.url, headers=headers)
    if not sent.get("cookies"):
        sent.pop("cookies", None)
    if "data" in sent:  # requests' name for a raw body is httpx's content
        sent["content"] = sent.pop("data")
    with httpx.Client(timeout=30.0) as client:
        response = client.request(**sent)
    case.validate_response(response, checks=CHECKS, headers=headers)
