"""The rules package's exceptions: one hierarchy, converted to user messages at the CLI edge."""

from __future__ import annotations


class RulesError(Exception):
    """Something in the rules package failed."""


class RuleFileError(RulesError):
    """Rule files have problems; ``problems`` lists each as ``file:line: field: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems) if problems else "invalid rules")


class AlertNotFound(RulesError):
    """No alert has the id asked for."""


class AlertStateError(RulesError):
    """The alert is not in a state that allows the change asked for (e.g. acknowledging a closed alert)."""


class NotificationError(RulesError):
    """A notification could not be delivered (broker or webhook unreachable)."""


class AlertSinkUnavailable(RulesError):
    """The alert sink cannot take a transition now (database down); the engine retries it later."""


class CommandSinkUnavailable(RulesError):
    """The command sink cannot take an action now (database down); the engine retries it later."""
