"""The telemetry store's exceptions: one hierarchy, converted from driver errors where they enter."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached; nothing of the failed call was stored, so it may be retried or spooled."""
