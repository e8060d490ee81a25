"""Alert messages and rule problems show numbers as a person writes them: no exponent, no float artefacts."""

from __future__ import annotations

from pathlib import Path

from rules.loader import check_rule_paths
from tests.rules.support import Harness, device

THRESHOLD = """
rules:
  - name: meter
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {yellow: 1234567.5, red: 1767225600}
"""

RATE = """
rules:
  - name: surge
    kind: rate_of_change
    applies_to: {kinds: [culvert_gauge]}
    severity: yellow
    metric: water_level_mm
    rise: 0.25
    window: 10m
    min_samples: 2
"""

CONDITION = """
rules:
  - name: odd
    kind: condition
    applies_to: {kinds: [culvert_gauge]}
    severity: yellow
    when: "water_level_mm > 0.1 and sun_up"
"""


def _no_artefacts(text: str) -> None:
    assert "e+" not in text and "0000000" not in text and "9999999" not in text, text


async def test_threshold_messages_carry_full_numbers() -> None:
    async with Harness(THRESHOLD, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", 1767225601.0)
        await h.feed("CG-1", "water_level_mm", 1234567.8)
    raised, deescalated = (t.message for t in h.sink.transitions)
    assert raised == "water_level_mm 1767225601 above the red level 1767225600"
    assert deescalated == "water_level_mm 1234567.8 above the yellow level 1234567.5"


async def test_rate_messages_keep_small_changes() -> None:
    async with Harness(RATE, [device("CG-1")]) as h:
        for value in (0.1, 0.1 + 0.15, 0.1 + 0.3):
            await h.feed("CG-1", "water_level_mm", value)
            await h.advance(300)
    (raised,) = h.sink.transitions
    assert raised.message == "water_level_mm rose 0.3 per 10m (limit 0.25); now 0.25"
    _no_artefacts(raised.message)


async def test_condition_messages_show_values_and_truth() -> None:
    async with Harness(CONDITION, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", 0.1 + 0.2)
    (raised,) = h.sink.transitions
    assert raised.message == "water_level_mm > 0.1 and sun_up (sun_up=true, water_level_mm=0.3)"


def test_level_order_problem_shows_the_levels_as_written(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(THRESHOLD.replace("yellow: 1234567.5", "yellow: 1767225600.5"))
    _, problems = check_rule_paths([path])
    assert problems == [f"{path}:7: rules[0].levels.red: 1767225600 must be above the yellow level 1767225600.5 "
                        "(direction: above)"]
