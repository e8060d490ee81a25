"""Threshold rules with escalating levels, hysteresis and persistence, table-driven on a fake clock."""

from __future__ import annotations

import pytest

from rules.levels import effective_levels
from rules.severity import SeverityScale
from tests.rules.support import Harness, device

RULE = """
rules:
  - name: level
    kind: threshold
    applies_to: {{kinds: [culvert_gauge]}}
    metric: water_level_mm
    levels: {{yellow: 300, orange: 500, red: 800}}
    deadband: {deadband}
    for: {for_s}
    clear_for: {clear_for_s}
"""

# Each step: (seconds to wait before, value) or ("wait", seconds). Expected: (event, severity) in order.
CASES = [
    pytest.param(0, 0, 0, [(0, 100), (0, 310)], [("raised", "yellow")], id="raise at once"),
    pytest.param(0, 0, 0, [(0, 300)], [], id="at the threshold is not above it"),
    pytest.param(0, 0, 0, [(0, 310), (10, 550), (10, 900)],
                 [("raised", "yellow"), ("escalated", "orange"), ("escalated", "red")], id="escalate step by step"),
    pytest.param(0, 0, 0, [(0, 900)], [("raised", "red")], id="jump straight to red"),
    pytest.param(0, 0, 0, [(0, 900), (10, 550), (10, 100)],
                 [("raised", "red"), ("deescalated", "orange"), ("cleared", "orange")], id="de-escalate and clear"),
    pytest.param(20, 0, 0, [(0, 310), (10, 295), (10, 280)], [("raised", "yellow"), ("cleared", "yellow")],
                 id="deadband holds the level until threshold minus deadband"),
    pytest.param(20, 0, 0, [(0, 310), (10, 281), (10, 319), (10, 282)], [("raised", "yellow")],
                 id="noise inside the deadband does not flap"),
    pytest.param(0, 30, 0, [(0, 310), ("wait", 29)], [], id="for: not yet after 29 s"),
    pytest.param(0, 30, 0, [(0, 310), ("wait", 30)], [("raised", "yellow")], id="for: raised after 30 s"),
    pytest.param(0, 30, 0, [(0, 310), (20, 200), (20, 310), ("wait", 20)], [],
                 id="for: a dip restarts the wait"),
    pytest.param(0, 30, 0, [(0, 310), (20, 550), ("wait", 10), ("wait", 20)],
                 [("raised", "yellow"), ("escalated", "orange")],
                 id="for: yellow counts from the first crossing, orange from its own"),
    pytest.param(0, 30, 0, [(0, 900), ("wait", 30)], [("raised", "red")], id="for: a jump raises red, not yellow"),
    pytest.param(0, 0, 300, [(0, 900), (10, 100), ("wait", 299)], [("raised", "red")],
                 id="clear_for: not yet after 299 s"),
    pytest.param(0, 0, 300, [(0, 900), (10, 100), ("wait", 300)], [("raised", "red"), ("cleared", "red")],
                 id="clear_for: cleared after 300 s"),
    pytest.param(0, 0, 300, [(0, 900), (10, 350), ("wait", 300)], [("raised", "red"), ("deescalated", "yellow")],
                 id="clear_for: steps down to where the value is"),
    pytest.param(0, 0, 300, [(0, 900), (10, 100), (200, 900), ("wait", 300)], [("raised", "red")],
                 id="clear_for: a return above cancels the clear"),
]


@pytest.mark.parametrize(("deadband", "for_s", "clear_for_s", "steps", "expected"), CASES)
async def test_threshold_table(deadband: float, for_s: float, clear_for_s: float,
                               steps: list[tuple[object, float]], expected: list[tuple[str, str]]) -> None:
    rules = RULE.format(deadband=deadband, for_s=for_s, clear_for_s=clear_for_s)
    async with Harness(rules, [device("CG-1")]) as h:
        for first, second in steps:
            if first == "wait":
                await h.advance(second)
            else:
                assert isinstance(first, int)
                await h.advance(first)
                await h.feed("CG-1", "water_level_mm", second)
        assert [(e, s) for e, _, s in h.events()] == expected


async def test_transition_carries_value_threshold_and_device() -> None:
    gauge = device("CG-7", site="district-3", groups=("hazard-07",))
    async with Harness(RULE.format(deadband=0, for_s=0, clear_for_s=0), [gauge]) as h:
        await h.feed("CG-7", "water_level_mm", 812)
        (t,) = h.sink.transitions
        assert (t.rule, t.device_id, t.severity, t.previous_severity) == ("level", "CG-7", "red", None)
        assert (t.metric, t.value, t.threshold) == ("water_level_mm", 812.0, 800.0)
        assert (t.site, t.device_kind) == ("district-3", "culvert_gauge")
        assert t.location is not None and t.location.landmark == "CG-7 landmark"
        assert t.at == h.clock.now()
        assert "812 above the red level 800" in t.message


async def test_device_overrides_replace_the_rule_levels() -> None:
    own = device("CG-2", thresholds={"water_level_mm": {"yellow": 150, "red": 400}})
    other = device("CG-3")
    async with Harness(RULE.format(deadband=0, for_s=0, clear_for_s=0), [own, other]) as h:
        await h.feed("CG-2", "water_level_mm", 420)
        await h.feed("CG-3", "water_level_mm", 420)
        assert h.events() == [("raised", "CG-2", "red"), ("raised", "CG-3", "yellow")]
        assert h.sink.transitions[0].threshold == 400


async def test_below_direction() -> None:
    rules = """
rules:
  - name: oxygen
    kind: threshold
    metric: dissolved_oxygen_mg_l
    direction: below
    levels: {yellow: 5, orange: 3, red: 2}
    deadband: 0.2
"""
    async with Harness(rules, [device("WQ-1", "water_quality_probe")]) as h:
        for value in (6.0, 4.5, 2.9, 1.9, 2.1, 2.3, 5.3):
            await h.feed("WQ-1", "dissolved_oxygen_mg_l", value)
        assert [(e, s) for e, _, s in h.events()] == [
            ("raised", "yellow"), ("escalated", "orange"), ("escalated", "red"), ("deescalated", "orange"),
            ("cleared", "orange")]


@pytest.mark.parametrize(("device_levels", "expected"), [
    (None, ((2, 300.0), (3, 500.0), (4, 800.0))),
    ({"red": 650}, ((2, 300.0), (3, 500.0), (4, 650.0))),
    ({"red": 450}, ((2, 300.0), (4, 450.0))),  # the default orange 500 would sit above red: dropped
    ({"yellow": 600}, ((2, 600.0), (4, 800.0))),  # orange 500 would sit below yellow: dropped
    ({"blue": 100, "yellow": 200, "orange": 250, "red": 300}, ((1, 100.0), (2, 200.0), (3, 250.0), (4, 300.0))),
    ({"amber": 1}, ((2, 300.0), (3, 500.0), (4, 800.0))),  # names off the scale are ignored
])
def test_effective_levels(device_levels: dict[str, float] | None, expected: tuple[tuple[int, float], ...]) -> None:
    levels = effective_levels(SeverityScale(), "above", {"yellow": 300, "orange": 500, "red": 800}, device_levels)
    assert levels.thresholds == expected
