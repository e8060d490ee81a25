"""The hydrology package's errors."""

from __future__ import annotations


class HydrologyError(Exception):
    """Base of this package's errors; the CLI shows the message as one line."""


class StandardError(HydrologyError):
    """A limits table that cannot be read."""
