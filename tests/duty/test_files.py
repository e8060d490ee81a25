"""Duty files: rotas and escalation policies validated like rule files, every problem as ``file:line``."""

from __future__ import annotations

from pathlib import Path

import pytest

from duty.errors import DutyFileError
from duty.files import load_duty, parse_duty_text, reference_problems

GOOD = """\
rotas:
  - area: jingtai
    role: duty_officer
    shifts:
      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "20:00", person: wang}
      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "20:00", end: "08:00", person: li}
    holidays: [{date: 2026-10-01, person: zhao}]
    overrides: [{from: "2026-12-24 18:00", to: "2026-12-25 08:00", person: chen}]
policies:
  - severity: red
    steps:
      - {notify: on_duty, up: 0, wait: 5m, channels: [sms, email]}
      - {notify: on_duty, up: 1, wait: 5m}
      - {notify: head, up: 2, wait: 10m, channels: [sms]}
"""


def test_a_good_file_becomes_rotas_and_policies() -> None:
    plan = parse_duty_text(GOOD, ".yaml", "duty.yaml")
    rota = plan.rota("jingtai", "duty_officer")
    assert rota is not None and [s.person for s in rota.shifts] == ["wang", "li"]
    assert rota.shifts[1].where == "duty.yaml:6"
    policy = plan.policy("red")
    assert policy is not None and [(s.whom, s.up, s.wait_s, s.channels) for s in policy.steps] == [
        ("on_duty", 0, 300.0, ("sms", "email")), ("on_duty", 1, 300.0, ("sms", "email")), ("head", 2, 600.0, ("sms",))]
    assert policy.repeat


@pytest.mark.parametrize(("change", "expected"), [
    (('start: "20:00", end: "08:00", person: li', 'start: "19:00", end: "08:00", person: li'),
     "duty.yaml:6: shift of li (mon 19:00–tue 08:00) overlaps the shift of wang at duty.yaml:5"),
    (('start: "20:00"', "start: 20:00"),
     "duty.yaml:6: rotas[0].shifts[1].start: Value error, write the time in quotes"),
    (("[sms, email]", "[sms, pager]"), "duty.yaml:12: policies[0].steps[0].channels[1]: Input should be"),
    (("wait: 5m, channels", "wait: soon, channels"), "duty.yaml:12: policies[0].steps[0].wait:"),
    (("days: [mon, tue", "days: [mon, tues"), "duty.yaml:5: rotas[0].shifts[0].days: Value error, 'tues' is not a day"),
    (('to: "2026-12-25 08:00"', 'to: "2026-12-24 08:00"'), "duty.yaml:8: rotas[0].overrides[0]: 'to' must be after"),
    (("notify: head", "notify: boss"), "duty.yaml:14: policies[0].steps[2].notify: Input should be"),
])
def test_bad_input_is_named_with_file_and_line(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(DutyFileError) as caught:
        parse_duty_text(GOOD.replace(*change, 1), ".yaml", "duty.yaml")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_references_to_unknown_areas_and_people_are_named() -> None:
    plan = parse_duty_text(GOOD, ".yaml", "duty.yaml")
    assert reference_problems(plan, areas={"jingtai"}, people={"wang", "li", "zhao", "chen"}) == []
    assert reference_problems(plan, areas={"baiyun"}, people={"wang", "zhao", "chen"}) == [
        "duty.yaml:2: area 'jingtai' does not exist", "duty.yaml:6: person 'li' does not exist"]


def test_toml_files_and_a_directory_load_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text(
        '[[rotas]]\narea = "baiyun"\n[[rotas.shifts]]\ndays = ["mon"]\nstart = 08:00:00\nend = 09:00:00\n'
        'person = "zhao"\n', encoding="utf-8")
    plan = load_duty(tmp_path)
    assert {r.area for r in plan.rotas} == {"jingtai", "baiyun"}
    (tmp_path / "c.yaml").write_text("policies:\n  - severity: red\n    steps: [{notify: head}]\n", encoding="utf-8")
    with pytest.raises(DutyFileError, match=r"c.yaml:2: a policy for red is already written at .*a.yaml:10"):
        load_duty(tmp_path)
