"""Fault specifications as the CLI takes them."""

from __future__ import annotations

import math

import pytest

from simulators.faults import FaultKind, FaultSpec, Target


@pytest.mark.parametrize(("text", "expected"), [
    ("lamp_failure:3", FaultSpec(FaultKind.lamp_failure, 3)),
    ("no_answer", FaultSpec(FaultKind.no_answer, 1)),
    ("no_answer:2@60s+30s", FaultSpec(FaultKind.no_answer, 2, Target.lamp, 60.0, 30.0)),
    ("probe/no_answer:1@1m", FaultSpec(FaultKind.no_answer, 1, Target.probe, 60.0)),
    ("stuck_sensor:2", FaultSpec(FaultKind.stuck_sensor, 2, Target.gauge)),
    ("pollution:1@2m+20m", FaultSpec(FaultKind.pollution, 1, Target.probe, 120.0, 1200.0)),
    ("probe/dropout", FaultSpec(FaultKind.dropout, 1, Target.probe)),
])
def test_parse(text: str, expected: FaultSpec) -> None:
    assert FaultSpec.parse(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("lamp_failure:x", "expected [TARGET/]KIND"),
    ("meltdown:2", "unknown kind 'meltdown'"),
    ("tree/no_answer", "unknown target 'tree'"),
    ("gauge/lamp_failure", "applies to lamp, not gauge"),
    ("pollution:0", "count must be at least 1"),
    ("drop:1@soon", "expected [TARGET/]KIND"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        FaultSpec.parse(text)


def test_window_and_many() -> None:
    specs = FaultSpec.parse_many("lamp_failure:3, delay:1@10s+5s,")
    assert [s.kind for s in specs] == [FaultKind.lamp_failure, FaultKind.delay]
    assert specs[0].window.end_s == math.inf and specs[0].window.active(1e9)
    assert specs[1].window.active(10.0) and not specs[1].window.active(15.0)
