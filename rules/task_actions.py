"""Task orders a rule asks for: ``action: dispatch_task``.

A task order is not a command to a device: the rules engine does not send it to the command sink.
The duty package reads the stored alert history and dispatches the order once per alert transition
(:mod:`duty.rule_tasks`); this module says what a rule file may write and which transition triggers
which order, so the rules and duty read a rule the same way.

.. code-block:: yaml

    actions:
      - at: red
        action: dispatch_task
        params: {type: close_underpass, title: "封闭涵洞 Close the underpass", to: pump-crew-3}

``type`` is the task type (its SLA is in the duty files), ``title`` what the order says (the type when
not given), ``to`` a person or crew by user name; without ``to`` the order goes to the people responsible
for the alert's device (its own, its hazard point's, its area's, nearest first).

>>> from rules.spec import ActionSpec
>>> spec = ActionSpec(at="red", action="dispatch_task", params={"type": "send_pump"})
>>> task_problems(spec), TaskAction.of(spec, 0)
([], TaskAction(index=0, at='red', task_type='send_pump', title='send_pump', assignee=None))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.severity import SeverityScale
from rules.sources import Loc
from rules.spec import CLEARED, ActionSpec, RuleSpec

DISPATCH_TASK = "dispatch_task"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_PARAMS = frozenset({"type", "title", "to"})


@dataclass(frozen=True, slots=True)
class TaskAction:
    """A rule's ``dispatch_task`` action, validated: ``index`` is its place in the rule's actions."""

    index: int
    at: str
    task_type: str
    title: str
    assignee: str | None

    @classmethod
    def of(cls, spec: ActionSpec, index: int) -> TaskAction:
        task_type = str(spec.params["type"])
        title = spec.params.get("title")
        to = spec.params.get("to")
        return cls(index, spec.at, task_type, str(title) if title else task_type, str(to) if to else None)


def is_task(spec: ActionSpec) -> bool:
    return spec.action == DISPATCH_TASK


def task_problems(spec: ActionSpec) -> list[tuple[Loc, str]]:
    """What is wrong with a ``dispatch_task`` action, each with its place under the action."""
    problems: list[tuple[Loc, str]] = []
    given = spec.model_fields_set & {"target", "value", "groups_matching"}
    problems += [((name,), "a task order has no device target; name its assignee with params.to")
                 for name in sorted(given)]
    if spec.at == CLEARED:
        problems.append((("at",), "a task order is dispatched when an alert reaches a severity, not when it clears"))
    for key in sorted(spec.params.keys() - _PARAMS):
        problems.append((("params", key), f"unknown parameter; a task order takes {', '.join(sorted(_PARAMS))}"))
    task_type = spec.params.get("type")
    if not isinstance(task_type, str) or not _NAME.match(task_type):
        problems.append((("params", "type"), "give the task type: lower-case letters, digits, '.', '_', '-' "
                                             "(e.g. close_underpass)"))
    for key in ("title", "to"):
        value = spec.params.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append((("params", key), "must be a non-empty text"))
    return problems


def task_actions(rule: RuleSpec) -> list[TaskAction]:
    return [TaskAction.of(spec, i) for i, spec in enumerate(rule.actions) if is_task(spec)]


def triggered(rule: RuleSpec, scale: SeverityScale, before: str | None, after: str) -> list[TaskAction]:
    """The task orders of ``rule`` an alert going from ``before`` (None: not raised) to ``after`` triggers:
    those whose severity it reached from below, as for commands."""
    if not scale.knows(after) or (before is not None and not scale.knows(before)):
        return []
    low, high = scale.rank(before) if before is not None else 0, scale.rank(after)
    return [action for action in task_actions(rule) if scale.knows(action.at) and low < scale.rank(action.at) <= high]
