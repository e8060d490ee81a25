"""The duty package's errors: each names what is wrong and where, in words a user can act on."""

from __future__ import annotations


class DutyError(Exception):
    """Base of every error this package raises."""


class DutyFileError(DutyError):
    """A rota or escalation policy file is invalid; ``problems`` lists every one as ``file:line: field: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class InvalidContact(DutyError):
    """A channel address that cannot be used (a bad e-mail address, mobile number or webhook URL)."""


class DeliveryError(DutyError):
    """A channel did not take a message; retried with backoff."""


class AckLinkError(DutyError):
    """An acknowledgement link that is forged, expired or already used."""
