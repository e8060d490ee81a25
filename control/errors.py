"""The control package's one exception hierarchy; foreign errors are converted where they enter."""

from __future__ import annotations


class ControlError(Exception):
    """Something in remote control went wrong; the message is one line for the operator."""


class ScheduleError(ControlError):
    """A schedule file has problems; ``problems`` lists each as ``location: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class UnknownSchedule(ControlError):
    """No schedule has that name."""


class CommandError(ControlError):
    """A command cannot be accepted as given (bad target, action or parameters)."""


class UnknownCommand(ControlError):
    """No command has that id."""


class DeliveryError(ControlError):
    """One attempt to deliver a command failed in a way worth retrying (timeout, no connection, readback)."""


class DeliveryRejected(ControlError):
    """The device refused the command or cannot carry it out: retrying will not help."""
