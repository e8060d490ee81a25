"""The simulators' one exception hierarchy: the CLI turns a :class:`SimulatorError` into one line."""

from __future__ import annotations


class SimulatorError(Exception):
    """A simulation cannot be set up or run; the message says what and where."""
