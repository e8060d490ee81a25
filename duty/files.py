"""Reading duty files (YAML or TOML): rotas and escalation policies, every problem as ``file:line: field: message``.

    rotas:
      - area: jingtai
        role: duty_officer
        shifts:
          - {days: [mon, tue, wed, thu, fri, sat, sun], start: "08:00", end: "20:00", person: wang}
        holidays: [{date: 2026-10-01, person: zhao}]
        overrides: [{from: "2026-12-24 18:00", to: "2026-12-25 08:00", person: chen}]
    policies:
      - severity: red
        role: duty_officer
        steps:
          - {notify: on_duty, up: 0, wait: 5m, channels: [sms, email]}
          - {notify: head, up: 2, wait: 10m}

>>> plan = parse_duty_text("rotas: []", ".yaml", "x.yaml")
>>> plan.rotas, plan.policies
((), ())
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from duty.errors import DutyFileError
from duty.policy import EscalationPolicy, Step
from duty.rota import DAY_NAMES, Holiday, Override, Rota, Shift, overlaps
from duty.suppression import SuppressionRules
from rules.durations import parse_duration_s
from rules.sources import RULE_FILE_SUFFIXES, Loc, RawRuleFile, SourceError, parse_rule_text, read_rule_file

ChannelName = Literal["sms", "voice", "email", "wecom", "dingtalk", "feishu", "console"]
DEFAULT_ACCEPT_WITHIN_S = 1800.0
_DEFAULT_CHANNELS: tuple[ChannelName, ...] = ("sms", "email")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ShiftModel(_Strict):
    days: list[str] = Field(min_length=1)
    start: time
    end: time
    person: str = Field(min_length=1)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 20:00 as the number 1200
            raise ValueError('write the time in quotes, e.g. "20:00"')
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for day in value:
            if day.lower() not in DAY_NAMES:
                raise ValueError(f"{day!r} is not a day; use {', '.join(DAY_NAMES)}")
        return [d.lower() for d in value]


class HolidayModel(_Strict):
    day: date = Field(alias="date")
    person: str = Field(min_length=1)


class OverrideModel(_Strict):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    person: str = Field(min_length=1)

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("write the area's local wall time without an offset (e.g. 2026-12-24 18:00)")
        return value


class RotaModel(_Strict):
    area: str = Field(min_length=1)
    role: str = "duty_officer"
    shifts: list[ShiftModel] = Field(default_factory=list)
    holidays: list[HolidayModel] = Field(default_factory=list)
    overrides: list[OverrideModel] = Field(default_factory=list)


class StepModel(_Strict):
    notify: Literal["on_duty", "head", "responsible", "person"]
    up: int = Field(0, ge=0, le=10)
    wait: float = Field(300.0, gt=0)
    channels: list[ChannelName] = Field(default_factory=lambda: list(_DEFAULT_CHANNELS), min_length=1)
    person: str | None = None

    @field_validator("wait", mode="before")
    @classmethod
    def _wait(cls, value: Any) -> float:
        return parse_duration_s(value)


class PolicyModel(_Strict):
    severity: str = Field(min_length=1)
    role: str = "duty_officer"
    steps: list[StepModel] = Field(min_length=1)
    repeat: bool = True


class TaskTypeModel(_Strict):
    name: str = Field(min_length=1, max_length=64)
    accept_within: float = Field(1800.0, gt=0)

    @field_validator("accept_within", mode="before")
    @classmethod
    def _within(cls, value: Any) -> float:
        return parse_duration_s(value)


class SuppressionModel(_Strict):
    offline_rules: list[str] = Field(default_factory=list)
    hold: float = Field(60.0, ge=0)

    @field_validator("hold", mode="before")
    @classmethod
    def _hold(cls, value: Any) -> float:
        return parse_duration_s(value)


class DutyFileModel(_Strict):
    rotas: list[RotaModel] = Field(default_factory=list)
    policies: list[PolicyModel] = Field(default_factory=list)
    task_types: list[TaskTypeModel] = Field(default_factory=list)
    suppression: SuppressionModel | None = None


@dataclass(frozen=True)
class DutyPlan:
    """Every rota and policy of the duty files, valid."""

    rotas: tuple[Rota, ...] = ()
    policies: tuple[EscalationPolicy, ...] = ()
    task_types: Mapping[str, float] = field(default_factory=dict)
    """Task type → seconds within which a task of it must be accepted."""
    suppression: SuppressionRules = field(default_factory=SuppressionRules)
    sources: tuple[str, ...] = field(default=(), compare=False)

    def rota(self, area: str, role: str) -> Rota | None:
        return next((r for r in self.rotas if r.area == area and r.role == role), None)

    def accept_within_s(self, task_type: str) -> float:
        return self.task_types.get(task_type, DEFAULT_ACCEPT_WITHIN_S)

    def policy(self, severity: str) -> EscalationPolicy | None:
        return next((p for p in self.policies if p.severity == severity), None)


def _loc_text(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _convert(raw: RawRuleFile, model: DutyFileModel) -> tuple[list[Rota], list[EscalationPolicy], list[str]]:
    rotas: list[Rota] = []
    for i, r in enumerate(model.rotas):
        def at(*loc: str | int, i: int = i) -> str:
            return raw.where(("rotas", i, *loc))
        rotas.append(Rota(
            r.area, r.role,
            shifts=tuple(Shift(frozenset(DAY_NAMES.index(d) for d in s.days), s.start.replace(tzinfo=None),
                               s.end.replace(tzinfo=None), s.person, at("shifts", j))
                         for j, s in enumerate(r.shifts)),
            holidays=tuple(Holiday(h.day, h.person, at("holidays", j)) for j, h in enumerate(r.holidays)),
            overrides=tuple(Override(o.start, o.end, o.person, at("overrides", j)) for j, o in enumerate(r.overrides)),
            source=at()))
    problems: list[str] = []
    for rota in rotas:
        problems += overlaps(rota)
    for i, r in enumerate(model.rotas):
        for j, o in enumerate(r.overrides):
            if o.end <= o.start:
                problems.append(f"{raw.where(('rotas', i, 'overrides', j))}: rotas[{i}].overrides[{j}]: "
                                "'to' must be after 'from'")
    policies: list[EscalationPolicy] = []
    for i, p in enumerate(model.policies):
        steps = []
        for j, s in enumerate(p.steps):
            where = raw.where(("policies", i, "steps", j))
            if (s.notify == "person") != (s.person is not None):
                problems.append(f"{where}: policies[{i}].steps[{j}]: 'person' goes with notify: person, and only there")
            steps.append(Step(s.notify, s.up, s.wait, tuple(s.channels), s.person, where))
        policies.append(EscalationPolicy(p.severity, p.role, tuple(steps), p.repeat, raw.where(("policies", i))))
    return rotas, policies, problems


def check_raw(raws: Sequence[RawRuleFile]) -> tuple[DutyPlan | None, list[str]]:
    """Validate parsed files together: fields, overlapping shifts, duplicate rotas and policies."""
    problems: list[str] = []
    rotas: list[Rota] = []
    policies: list[EscalationPolicy] = []
    task_types: dict[str, float] = {}
    suppression = SuppressionRules()
    for raw in raws:
        try:
            model = DutyFileModel.model_validate(raw.data if raw.data is not None else {})
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                problems.append(f"{raw.where(loc)}: {_loc_text(loc) or '(top)'}: {error['msg']}")
            continue
        for i, kind in enumerate(model.task_types):
            if kind.name in task_types:
                problems.append(f"{raw.where(('task_types', i))}: task type {kind.name!r} is written twice")
            task_types[kind.name] = kind.accept_within
        if model.suppression is not None:
            suppression = SuppressionRules(suppression.offline_rules | frozenset(model.suppression.offline_rules),
                                           model.suppression.hold)
        found_rotas, found_policies, found_problems = _convert(raw, model)
        rotas += found_rotas
        policies += found_policies
        problems += found_problems
    seen_rotas: dict[tuple[str, str], str] = {}
    for rota in rotas:
        key = (rota.area, rota.role)
        if key in seen_rotas:
            problems.append(f"{rota.source}: a rota for {rota.area}/{rota.role} is already written at "
                            f"{seen_rotas[key]}")
        seen_rotas.setdefault(key, rota.source)
    seen_policies: dict[str, str] = {}
    for policy in policies:
        if policy.severity in seen_policies:
            problems.append(f"{policy.where}: a policy for {policy.severity} is already written at "
                            f"{seen_policies[policy.severity]}")
        seen_policies.setdefault(policy.severity, policy.where)
    if problems:
        return None, problems
    return DutyPlan(tuple(rotas), tuple(policies), task_types, suppression, tuple(raw.source for raw in raws)), []


def reference_problems(plan: DutyPlan, *, areas: Iterable[str], people: Iterable[str]) -> list[str]:
    """Areas and people the plan names that do not exist."""
    known_areas, known_people = set(areas), set(people)
    problems: list[str] = []
    for rota in plan.rotas:
        if rota.area not in known_areas:
            problems.append(f"{rota.source}: area {rota.area!r} does not exist")
        entries: list[Shift | Holiday | Override] = [*rota.shifts, *rota.holidays, *rota.overrides]
        for entry in entries:
            if entry.person not in known_people:
                problems.append(f"{entry.where}: person {entry.person!r} does not exist")
    for policy in plan.policies:
        for step in policy.steps:
            if step.person is not None and step.person not in known_people:
                problems.append(f"{step.where}: person {step.person!r} does not exist")
    return problems


def parse_duty_text(text: str, suffix: str, source: str) -> DutyPlan:
    try:
        raw = parse_rule_text(text, suffix, source)
    except SourceError as exc:
        raise DutyFileError([str(exc)]) from None
    plan, problems = check_raw([raw])
    if plan is None:
        raise DutyFileError(problems)
    return plan


def load_duty(path: Path | None) -> DutyPlan:
    """Every duty file in a directory (or the one file); an empty plan when ``path`` is None."""
    if path is None:
        return DutyPlan()
    if not path.exists():
        raise DutyFileError([f"{path}: no such file or directory"])
    paths = sorted(p for p in path.iterdir() if p.suffix.lower() in RULE_FILE_SUFFIXES) if path.is_dir() else [path]
    raws: list[RawRuleFile] = []
    problems: list[str] = []
    for p in paths:
        try:
            raws.append(read_rule_file(p))
        except SourceError as exc:
            problems.append(str(exc))
    plan, more = check_raw(raws)
    if plan is None or problems:
        raise DutyFileError(problems + more)
    return plan
