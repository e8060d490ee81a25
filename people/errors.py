"""The people package's errors: each names what is wrong in words a user can act on."""

from __future__ import annotations


class PeopleError(Exception):
    """Base of every error this package raises."""


class NotFound(PeopleError):
    """No such area, user or token."""


class Invalid(PeopleError):
    """A value that cannot be accepted; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Conflict(PeopleError):
    """The change clashes with what exists (a duplicate name, a cycle of areas)."""
