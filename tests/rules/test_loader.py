"""Rule files: YAML and TOML, every problem reported as file:line: field: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.durations import format_duration_s, parse_duration_s
from rules.errors import RuleFileError
from rules.loader import SHIPPED_RULES_DIR, check_rule_paths, load_ruleset, parse_ruleset
from rules.spec import ConditionRule, ThresholdRule


def problems_of(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    ruleset, problems = check_rule_paths([path])
    assert ruleset is None
    return [p.replace(f"{tmp_path}/", "") for p in problems]


def test_the_shipped_examples_are_valid() -> None:
    ruleset = load_ruleset(SHIPPED_RULES_DIR)
    names = {rule.name for rule in ruleset.rules}
    assert {"culvert-water-level", "culvert-rapid-rise", "culvert-gauge-offline", "district-flooding",
            "water-worse-than-class-v", "lamp-failure", "lamp-day-burning", "lamp-cycling"} <= names
    level = ruleset.get("culvert-water-level")
    assert isinstance(level, ThresholdRule)
    assert level.levels == {"yellow": 300, "orange": 500, "red": 800}
    assert (level.for_s, level.clear_for_s) == (30, 300)
    assert level.actions[0].target == "group" and level.actions[0].params == {"level_pct": 100}
    assert ruleset.origins["culvert-water-level"].endswith("culverts.yaml:6")


def test_yaml_problems_name_file_line_and_field(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "culverts.yaml", """\
rules:
  - name: ok
    kind: threshold
    metric: water_level_mm
    levels: {yellow: 300}
  - name: rise
    kind: rate_of_change
    metric: water_level_mm
    window: 10m
    severity: orange
  - name: level
    kind: threshold
    metric: water_level_mm
    levels:
      red: lots
    for: 3 fortnights
  - {name: what, kind: nonsense}
  - name: lamp
    kind: condition
    when: "__import__('os').system('x')"
    severity: purple
  - name: ok
    kind: threshold
    metric: x
    levels: {yellow: 1}
    colour: blue
""") == [
        "culverts.yaml:6: rules[1]: give exactly one of 'rise' or 'fall'",
        "culverts.yaml:15: rules[2].levels.red: Input should be a valid number, unable to parse string as a number",
        "culverts.yaml:16: rules[2].for: cannot read duration '3 fortnights'; write e.g. 30s, 5m, 1h30m",
        "culverts.yaml:17: rules[3]: unknown kind 'nonsense'; one of threshold, rate_of_change, projected, quality, "
        "rain_rise, absence, condition, group",
        "culverts.yaml:20: rules[4].when: not allowed in an expression: \"__import__('os').system('x')\"",
        "culverts.yaml:21: rules[4].severity: unknown severity 'purple'; the scale is blue < yellow < orange < red",
        "culverts.yaml:26: rules[5].colour: unknown field",
    ]


def test_semantic_problems(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "r.yaml", """\
rules:
  - {name: a, kind: threshold, metric: m, levels: {yellow: 500, red: 300}}
  - {name: b, kind: threshold, metric: m, direction: below, levels: {yellow: 1, red: 2}}
  - {name: a, kind: absence, after: 5m, severity: blue}
  - {name: g, kind: group, source: nobody, min_severity: yellow, at_least: 3, severity: red, group_by: street}
  - {name: Bad Name, kind: absence, after: 5m, severity: blue}
  - name: act
    kind: absence
    after: 5m
    severity: red
    actions:
      - {at: red, action: flash, target: tag, value: no-equals}
      - {at: crimson, action: flash, target: group}
""") == [
        "r.yaml:2: rules[0].levels.red: 300 must be above the yellow level 500 (direction: above)",
        "r.yaml:3: rules[1].levels.red: 2 must be below the yellow level 1 (direction: below)",
        "r.yaml:4: rules[2].name: 'a' is already defined at r.yaml:2",
        "r.yaml:5: rules[3].source: no rule named 'nobody'",
        "r.yaml:5: rules[3].group_by: 'street': use site, group or tag:<key>",
        "r.yaml:6: rules[4].name: 'Bad Name' must be lower-case letters, digits, '.', '_', '-' (≤ 64)",
        "r.yaml:12: rules[5].actions[0].value: a tag target needs value: key=value",
        "r.yaml:13: rules[5].actions[1].at: unknown severity 'crimson'; the scale is blue < yellow < orange < red",
        "r.yaml:13: rules[5].actions[1].value: a group target needs value (a group name) or groups_matching "
        "(a pattern)",
    ]


def test_toml_problems_name_the_line(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "lamps.toml", """\
[[rules]]
name = "fine"
kind = "absence"
after = "15m"
severity = "blue"

[[rules]]
name = "lamp-failure"
kind = "condition"
when = "relay_on and power_w < 5"
severity = "orange"
for = "five minutes"

[[rules]]
name = "levels"
kind = "threshold"
metric = "water_level_mm"

[rules.levels]
yellow = 300
red = "high"
""") == [
        "lamps.toml:12: rules[1].for: cannot read duration 'five minutes'; write e.g. 30s, 5m, 1h30m",
        "lamps.toml:21: rules[2].levels.red: Input should be a valid number, unable to parse string as a number",
    ]


def test_syntax_errors_give_the_line(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "a.yaml", "rules:\n  - name: x\n   kind: y\n") == [
        "a.yaml:3: not valid YAML: expected <block end>, but found '<block mapping start>'"]
    (problem,) = problems_of(tmp_path, "b.toml", "[[rules]]\nname = \n")
    assert problem.startswith("b.toml:2: not valid TOML")
    assert problems_of(tmp_path, "c.json", "{}") == ["c.json: unknown file type '.json'; use .yaml, .yml or .toml"]
    assert problems_of(tmp_path, "d.yaml", "- just a list\n") == [
        "d.yaml:1: (file): the file must hold a mapping with a 'rules' list at the top"]


def test_a_custom_severity_scale_must_agree_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("severities: [minor, major, critical]\nrules:\n"
                                     "  - {name: a, kind: absence, after: 1m, severity: critical}\n")
    ruleset = load_ruleset(tmp_path)
    assert ruleset.scale.names == ("minor", "major", "critical")
    (tmp_path / "b.yaml").write_text("severities: [low, high]\nrules: []\n")
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path}/b.yaml:1: severities: ['low', 'high'] differs from ['minor', 'major', 'critical'] at "
        f"{tmp_path}/a.yaml:1"]


def test_parse_text_and_disabled_rules() -> None:
    ruleset = parse_ruleset("""
rules:
  - {name: "on", kind: condition, when: "a > 1", severity: red}
  - {name: "off", kind: condition, when: "a > 1", severity: red, enabled: false}
""")
    assert [r.name for r in ruleset.enabled] == ["on"]
    assert isinstance(ruleset.rules[0], ConditionRule)


def test_yaml_booleans_in_disguise_get_a_hint() -> None:
    with pytest.raises(RuleFileError) as caught:
        parse_ruleset("rules:\n  - {name: on, kind: absence, after: 5m, severity: red}\n", source="r.yaml")
    assert caught.value.problems == [
        "r.yaml:2: rules[0].name: Input should be a valid string (YAML reads on/off/yes/no as true/false: "
        "write 'on' in quotes)"]


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("10 min", 600), ("2 hours", 7200), ("1.5h", 5400), (90, 90),
    ("45", 45), ("1d", 86400),
])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "5 fortnights", "-3", True, "5m later"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(bad)


def test_durations_format_back() -> None:
    assert [format_duration_s(s) for s in (0, 45, 600, 5400, 90061)] == ["0s", "45s", "10m", "1h30m", "1d1h1m1s"]


def test_dispatch_task_actions_are_checked_with_file_line_and_kept_from_the_command_sink(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "tasks.yaml", """\
rules:
  - name: level
    kind: threshold
    metric: water_level_mm
    levels: {red: 800}
    actions:
      - {at: red, action: dispatch_task, params: {type: close_underpass, to: pump-crew-3}}
      - at: cleared
        action: dispatch_task
        target: group
        params: {kind: send_pump, title: ""}
""") == [
        "tasks.yaml:8: rules[0].actions[1].at: a task order is dispatched when an alert reaches a severity, "
        "not when it clears",
        "tasks.yaml:10: rules[0].actions[1].target: a task order has no device target; name its assignee with "
        "params.to",
        "tasks.yaml:11: rules[0].actions[1].params.kind: unknown parameter; a task order takes title, to, type",
        "tasks.yaml:11: rules[0].actions[1].params.type: give the task type: lower-case letters, digits, '.', '_', "
        "'-' (e.g. close_underpass)",
        "tasks.yaml:11: rules[0].actions[1].params.title: must be a non-empty text",
    ]


def test_a_dispatch_task_action_is_no_command() -> None:
    from datetime import UTC, datetime

    from rules.evidence import Evidence
    from rules.task_actions import TaskAction, triggered
    from rules.transitions import RankChange, action_requests, make_transition

    ruleset = parse_ruleset("""\
rules:
  - name: level
    kind: threshold
    metric: water_level_mm
    levels: {yellow: 300, red: 800}
    actions:
      - {at: red, action: dispatch_task, params: {type: close_underpass}}
      - {at: red, action: set_dim, target: site, value: baiyun, params: {level_pct: 100}}
""")
    rule = ruleset.rules[0]
    change = RankChange(ruleset.scale, 0, ruleset.scale.rank("red"))
    transition = make_transition(1, "level", "CUL-7", device=None, evidence=Evidence(change.after), change=change,
                                 now=datetime(2026, 7, 1, tzinfo=UTC), message="m")
    requests, untargeted = action_requests("level", rule.actions, None, transition, change)
    assert [r.action for r in requests] == ["set_dim"] and untargeted == []
    assert triggered(rule, ruleset.scale, None, "red") == [TaskAction(0, "red", "close_underpass", "close_underpass",
                                                                      None)]
    assert triggered(rule, ruleset.scale, "red", "red") == triggered(rule, ruleset.scale, None, "yellow") == []
