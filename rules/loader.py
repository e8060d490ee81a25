"""Load and validate rule files: every problem reported as ``file:line: field: message``.

>>> ruleset = load_ruleset(SHIPPED_RULES_DIR)          # doctest: +SKIP
>>> check_rule_paths([Path("rules/culverts.yaml")])     # doctest: +SKIP
(None, ['rules/culverts.yaml:14: rules[2].levels.red: Input should be a valid number'])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rules.errors import RuleFileError
from rules.severity import DEFAULT_SEVERITIES, SeverityScale
from rules.sources import RULE_FILE_SUFFIXES, Loc, RawRuleFile, SourceError, parse_rule_text, read_rule_file
from rules.spec import (
    RULE_NAME_PATTERN,
    ActionSpec,
    ConditionRule,
    GroupRule,
    ProjectedRule,
    QualityRule,
    RainRiseRule,
    RateOfChangeRule,
    RuleFile,
    RuleSpec,
    ThresholdRule,
)
from rules.task_actions import is_task, task_problems
from streetwatch.expressions import Expression, ExpressionError
from streetwatch.figures import show

SHIPPED_RULES_DIR = Path(__file__).parent / "examples"
BUILTIN_NAMES = frozenset({"sun_elevation_deg", "sun_up"})
"""Names every condition may use besides the device's metrics and its windows."""
KINDS = ("threshold", "rate_of_change", "projected", "quality", "rain_rise", "absence", "condition", "group")
_RULE: TypeAdapter[RuleSpec] = TypeAdapter(RuleSpec)


@dataclass(frozen=True)
class RuleSet:
    """Validated rules and the severity scale they share; ``origins`` says where each rule is written."""

    scale: SeverityScale = field(default_factory=SeverityScale)
    rules: tuple[RuleSpec, ...] = ()
    origins: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> RuleSpec | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    @property
    def enabled(self) -> tuple[RuleSpec, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)


def rule_paths(path: Path) -> list[Path]:
    """The rule files in a directory (sorted), or the one file named."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in RULE_FILE_SUFFIXES)
    return [path]


def load_ruleset(path: Path) -> RuleSet:
    """Every rule in ``path`` (a directory or one file); raises :class:`RuleFileError` listing all problems."""
    if not path.exists():
        raise RuleFileError([f"{path}: no such file or directory"])
    ruleset, problems = check_rule_paths(rule_paths(path))
    if ruleset is None:
        raise RuleFileError(problems)
    return ruleset


def parse_ruleset(text: str, suffix: str = ".yaml", source: str = "<rules>") -> RuleSet:
    """A rule set from text (``.yaml`` or ``.toml``); raises :class:`RuleFileError`."""
    try:
        raw = parse_rule_text(text, suffix, source)
    except SourceError as exc:
        raise RuleFileError([str(exc)]) from None
    ruleset, problems = _check_raw([raw])
    if ruleset is None:
        raise RuleFileError(problems)
    return ruleset


def check_rule_paths(paths: Sequence[Path]) -> tuple[RuleSet | None, list[str]]:
    """Validate rule files together (names are unique across them); the rule set if all is well."""
    raws: list[RawRuleFile] = []
    problems: list[str] = []
    for path in paths:
        try:
            raws.append(read_rule_file(path))
        except SourceError as exc:
            problems.append(str(exc))
        except Exception as exc:  # whatever a file does, it is reported as that file's problem
            problems.append(_unexpected(str(path), exc))
    ruleset, more = _check_raw(raws)
    problems = sorted(problems + more, key=_problem_order)
    return (ruleset if not problems else None), problems


def _check_raw(raws: Sequence[RawRuleFile]) -> tuple[RuleSet | None, list[str]]:
    problems: list[str] = []
    parsed: list[_ValidFile] = []
    for raw in raws:
        try:
            valid, file_problems = _validate_file(raw)
        except Exception as exc:  # a file the checks cannot handle is that file's problem
            valid, file_problems = None, [_unexpected(raw.source, exc)]
        problems += file_problems
        if valid is not None:
            parsed.append(valid)
    scale, scale_problems = _scale_of(parsed)
    problems += scale_problems
    rules: list[RuleSpec] = []
    origins: dict[str, str] = {}
    for valid in parsed:
        raw = valid.raw
        for index, rule in valid.rules:
            where = raw.where(("rules", index))
            if rule.name in origins:
                problems.append(f"{raw.where(('rules', index, 'name'))}: rules[{index}].name: "
                                f"{rule.name!r} is already defined at {origins[rule.name]}")
                continue
            origins[rule.name] = where
            rules.append(rule)
            if scale is not None:
                try:
                    rule_problems = _rule_problems(rule, scale)
                except Exception as exc:  # see above
                    rule_problems = [((), _unexpected("", exc).removeprefix(": "))]
                for loc, message in rule_problems:
                    full = ("rules", index, *loc)
                    problems.append(f"{raw.where(full)}: {_loc_text(full)}: {message}")
    by_name = {rule.name: rule for rule in rules}
    for valid in parsed:
        raw = valid.raw
        for index, rule in valid.rules:
            if isinstance(rule, GroupRule):
                for loc, message in _group_problems(rule, by_name):
                    full = ("rules", index, *loc)
                    problems.append(f"{raw.where(full)}: {_loc_text(full)}: {message}")
    if problems or scale is None:
        return None, sorted(problems, key=_problem_order)
    return RuleSet(scale, tuple(rules), origins), []


@dataclass(frozen=True)
class _ValidFile:
    raw: RawRuleFile
    severities: tuple[str, ...] | None
    rules: list[tuple[int, RuleSpec]]  # (index in the file, rule)


def _validate_file(raw: RawRuleFile) -> tuple[_ValidFile | None, list[str]]:
    """The file's rules that are valid (each rule on its own, so one bad rule hides no other problem)."""
    data = raw.data if raw.data is not None else {}
    if not isinstance(data, dict):
        return None, [f"{raw.where(())}: (file): the file must hold a mapping with a 'rules' list at the top"]
    problems: list[str] = []
    rules: list[tuple[int, RuleSpec]] = []
    items = data.get("rules", [])
    if isinstance(items, list):
        for index, item in enumerate(items):
            try:
                rules.append((index, _RULE.validate_python(item)))
            except ValidationError as exc:
                problems += _format_errors(raw, exc, ("rules", index))
        top = {key: value for key, value in data.items() if key != "rules"}
    else:
        top = data
    try:
        head = RuleFile.model_validate(top)
    except ValidationError as exc:
        problems += _format_errors(raw, exc, ())
        return None, problems
    return _ValidFile(raw, head.severities, rules), problems


def _format_errors(raw: RawRuleFile, exc: ValidationError, prefix: Loc) -> list[str]:
    out = []
    for error in exc.errors():
        loc = (*prefix, *tuple(error["loc"]))
        if prefix and len(loc) > len(prefix) and loc[len(prefix)] in KINDS:
            loc = (*prefix, *loc[len(prefix) + 1:])  # pydantic puts the union's tag in the location
        out.append(f"{raw.where(loc)}: {_loc_text(loc)}: {_message(error)}")
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "union_tag_not_found":
        return f"missing 'kind'; one of {', '.join(KINDS)}"
    if kind == "union_tag_invalid":
        return f"unknown kind {error['ctx']['tag']!r}; one of {', '.join(KINDS)}"
    if kind in {"model_attributes_type", "model_type"}:
        return "must be a mapping of field: value"
    if kind == "string_type" and isinstance(error.get("input"), bool):
        word = "on" if error["input"] else "off"
        return f"{error['msg']} (YAML reads on/off/yes/no as true/false: write '{word}' in quotes)"
    return str(error["msg"]).removeprefix("Value error, ")


def _loc_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _scale_of(parsed: Iterable[_ValidFile]) -> tuple[SeverityScale | None, list[str]]:
    declared: list[tuple[str, tuple[str, ...]]] = [
        (valid.raw.where(("severities",)), valid.severities) for valid in parsed if valid.severities is not None
    ]
    if not declared:
        return SeverityScale(DEFAULT_SEVERITIES), []
    where, names = declared[0]
    problems = [f"{other_where}: severities: {list(other)} differs from {list(names)} at {where}"
                for other_where, other in declared[1:] if other != names]
    try:
        scale = SeverityScale(names)
    except ValueError as exc:
        return None, [f"{where}: severities: {exc}", *problems]
    return (scale if not problems else None), problems


def _rule_problems(rule: RuleSpec, scale: SeverityScale) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    if not RULE_NAME_PATTERN.match(rule.name):
        problems.append((("name",), f"{rule.name!r} must be lower-case letters, digits, '.', '_', '-' (≤ 64)"))
    for where, severity in rule.severities_named():
        if not scale.knows(severity):
            problems.append((_split(where), f"unknown severity {severity!r}; the scale is {' < '.join(scale.names)}"))
    for index, action in enumerate(rule.actions):
        problems += [(("actions", index, *loc), message) for loc, message in _action_problems(action)]
    if isinstance(rule, ThresholdRule | ProjectedRule):
        problems += _threshold_problems(rule, scale)
    if isinstance(rule, QualityRule) and not _quality_checks(rule):
        problems.append(((), "give at least one check: spike, max_rise_per_min, stuck_for, floor, battery_min "
                             "or signal_min"))
    if isinstance(rule, ProjectedRule) and rule.min_span_s > rule.window_s:
        problems.append((("min_span",), "must not be longer than the window"))
    elif isinstance(rule, RateOfChangeRule) and (rule.rise is None) == (rule.fall is None):
        problems.append(((), "give exactly one of 'rise' or 'fall'"))
    elif isinstance(rule, ConditionRule):
        problems += _condition_problems(rule)
    elif isinstance(rule, RainRiseRule):
        problems += _rain_rise_problems(rule)
    return problems


def _rain_rise_problems(rule: RainRiseRule) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    if not _district_key_ok(rule.district_by, ("area", "site", "group")):
        problems.append((("district_by",), f"{rule.district_by!r}: use area, site, group or tag:<key>"))
    if rule.rain_metric == rule.metric:
        problems.append((("rain_metric",), f"{rule.rain_metric!r} is the level metric too; name the rain's"))
    if rule.rain_from == rule.applies_to:
        problems.append((("rain_from",), "selects the same devices as applies_to: rain gauges and level gauges "
                                         "are told apart by these two"))
    return problems


def _district_key_ok(by: str, plain: tuple[str, ...]) -> bool:
    return by in plain or (by.startswith("tag:") and len(by) > 4)


def _quality_checks(rule: QualityRule) -> list[object]:
    checks = (rule.spike, rule.max_rise_per_min, rule.stuck_for_s, rule.floor, rule.battery_min, rule.signal_min)
    return [check for check in checks if check is not None]


def _split(dotted: str) -> Loc:
    parts: list[str | int] = []
    for piece in dotted.split("."):
        name, _, index = piece.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index.rstrip("]")))
    return tuple(parts)


def _threshold_problems(rule: ThresholdRule | ProjectedRule, scale: SeverityScale) -> list[tuple[Loc, str]]:
    if not rule.levels and not rule.device_thresholds:
        return [(("levels",), "give at least one level, or let devices supply them (device_thresholds: true)")]
    direction = rule.direction if isinstance(rule, ThresholdRule) else "above"
    known = sorted(((scale.rank(n), v) for n, v in rule.levels.items() if scale.knows(n)))
    for (low_rank, low), (high_rank, high) in itertools.pairwise(known):
        wrong = high <= low if direction == "above" else high >= low
        if wrong:
            word = "above" if direction == "above" else "below"
            return [(("levels", scale.name(high_rank)),
                     f"{show(high)} must be {word} the {scale.name(low_rank)} level {show(low)} "
                     f"(direction: {direction})")]
    return []


def _condition_problems(rule: ConditionRule) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    try:
        Expression.parse(rule.when)
    except ExpressionError as exc:
        problems.append((("when",), str(exc)))
    for name in rule.windows:
        if not name.isidentifier() or name in BUILTIN_NAMES:
            problems.append((("windows", name), f"{name!r} cannot name a window (a plain name, not a built-in)"))
    return problems


def _action_problems(action: ActionSpec) -> list[tuple[Loc, str]]:
    if is_task(action):
        return task_problems(action)
    if action.target == "tag" and (action.value is None or "=" not in action.value):
        return [(("value",), "a tag target needs value: key=value")]
    if action.groups_matching is not None and action.target != "group":
        return [(("groups_matching",), "only a group target picks from the device's groups")]
    if action.target == "group" and action.value is None and action.groups_matching is None:
        return [(("value",), "a group target needs value (a group name) or groups_matching (a pattern)")]
    return []


def _group_problems(rule: GroupRule, by_name: Mapping[str, RuleSpec]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    source = by_name.get(rule.source)
    if source is None:
        problems.append((("source",), f"no rule named {rule.source!r}"))
    elif isinstance(source, GroupRule):
        problems.append((("source",), f"{rule.source!r} is a group rule; count the devices of a device rule"))
    if not _district_key_ok(rule.group_by, ("site", "group")):
        problems.append((("group_by",), f"{rule.group_by!r}: use site, group or tag:<key>"))
    return problems


def _unexpected(source: str, exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return f"{source}: nested too deeply to check"
    return f"{source}: cannot check: {type(exc).__name__}: {exc}"


def load_ruleset_skipping(paths: Sequence[Path]) -> tuple[RuleSet, dict[str, list[str]]]:
    """The rules of every file that has no problem, and the problems of the files left out (by file).

    For start-up: a file with a mistake must not keep the gateway from watching everything else.
    Files are left out until the rest checks clean (a rule in a good file may name one in a bad file).
    """
    files = list(paths)
    skipped: dict[str, list[str]] = {}
    while True:
        ruleset, problems = check_rule_paths(files)
        if ruleset is not None:
            return ruleset, skipped
        bad = {str(f): [p for p in problems if p == str(f) or p.startswith(f"{f}:")] for f in files}
        bad = {f: found for f, found in bad.items() if found} or {str(f): problems for f in files}
        skipped.update(bad)
        files = [f for f in files if str(f) not in bad]


def _problem_order(problem: str) -> tuple[str, int]:
    where = problem.split(": ", 1)[0]
    source, _, line = where.rpartition(":")
    return (source, int(line)) if line.isdigit() else (where, 0)
