"""The people package's command groups, registered by the gateway's root CLI."""

from __future__ import annotations

from people.cli_area import area_app
from people.cli_token import audit_app, token_app
from people.cli_user import user_app

__all__ = ["area_app", "audit_app", "token_app", "user_app"]
