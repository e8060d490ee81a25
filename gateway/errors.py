"""The gateway's exceptions: one hierarchy. The CLI turns them into a one-line error."""

from __future__ import annotations


class GatewayError(Exception):
    """The gateway cannot do what it was asked (a port in use, a journal it cannot write)."""
