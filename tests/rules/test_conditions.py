"""Conditions over several metrics of one device: lamp failure, day burning, cycling, water quality."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.loader import SHIPPED_RULES_DIR, load_ruleset, parse_ruleset
from streetwatch.sun import sun_elevation_deg
from tests.rules.support import Harness, device

SHIPPED = load_ruleset(SHIPPED_RULES_DIR)
NOON_SHANGHAI = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
MIDNIGHT_SHANGHAI = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)


async def lamp_poll(h: Harness, lamp: str, *, relay_on: bool, power_w: float, dim_level_pct: float = 100) -> None:
    await h.feed(lamp, "relay_on", 1.0 if relay_on else 0.0)
    await h.feed(lamp, "dim_level_pct", dim_level_pct)
    await h.feed(lamp, "power_w", power_w)


async def test_lamp_failure_after_five_minutes_of_relay_on_without_power() -> None:
    async with Harness(SHIPPED, [device("LP-1", "lamp_controller"), device("LP-2", "lamp_controller")],
                       start=MIDNIGHT_SHANGHAI) as h:
        for _ in range(6):
            await lamp_poll(h, "LP-1", relay_on=True, power_w=0.4)
            await lamp_poll(h, "LP-2", relay_on=True, power_w=61.0)
            await h.advance(60)
        raised = [t for t in h.sink.transitions if t.rule == "lamp-failure"]
        assert [(t.event.value, t.device_id, t.severity) for t in raised] == [("raised", "LP-1", "orange")]
        assert raised[0].context == {"power_w": 0.4, "relay_on": 1.0}
        assert (raised[0].at - MIDNIGHT_SHANGHAI).total_seconds() == 300


async def test_lamp_switched_off_is_not_a_failure() -> None:
    async with Harness(SHIPPED, [device("LP-1", "lamp_controller")], start=MIDNIGHT_SHANGHAI) as h:
        for _ in range(10):
            await lamp_poll(h, "LP-1", relay_on=False, power_w=0.0, dim_level_pct=0)
            await h.advance(60)
        assert h.events() == []


@pytest.mark.parametrize(("start", "location", "burning"), [
    (NOON_SHANGHAI, (31.23, 121.47), True),
    (MIDNIGHT_SHANGHAI, (31.23, 121.47), False),
    # the same instant is night on the other side of the world
    (NOON_SHANGHAI, (40.71, -74.01), False),
])
async def test_day_burning_depends_on_the_sun_at_the_lamp(start: datetime, location: tuple[float, float],
                                                          burning: bool) -> None:
    async with Harness(SHIPPED, [device("LP-1", "lamp_controller", location=location)], start=start) as h:
        for _ in range(16):
            await lamp_poll(h, "LP-1", relay_on=True, power_w=60.0)
            await h.advance(60)
        day = [t for t in h.sink.transitions if t.rule == "lamp-day-burning"]
        assert [(t.event.value, t.severity) for t in day] == ([("raised", "yellow")] if burning else [])
        if burning:
            assert day[0].context["sun_elevation_deg"] == pytest.approx(
                sun_elevation_deg(*location, day[0].at), abs=0.5)


async def test_cycling_more_than_six_transitions_in_an_hour() -> None:
    async with Harness(SHIPPED, [device("LP-1", "lamp_controller")], start=MIDNIGHT_SHANGHAI) as h:
        for i in range(7):  # off→on→off… : 6 transitions in 6 × 5 min, no alert yet
            await h.feed("LP-1", "relay_on", float(i % 2))
            await h.advance(300)
        assert [e for e in h.events() if e[0] == "raised"] == []
        await h.feed("LP-1", "relay_on", 1.0)  # the seventh
        assert ("raised", "LP-1", "yellow") in h.events()
        cycling = next(t for t in h.sink.transitions if t.rule == "lamp-cycling")
        assert cycling.context == {"relay_transitions_1h": 7.0}
        # a quiet hour later the count has fallen; 30 min clear_for then clears it
        for _ in range(100):
            await h.feed("LP-1", "relay_on", 1.0)
            await h.advance(60)
        assert [(t.event.value, t.rule) for t in h.sink.transitions if t.rule == "lamp-cycling"] == [
            ("raised", "lamp-cycling"), ("cleared", "lamp-cycling")]


@pytest.mark.parametrize(("oxygen", "ammonia", "worse_than_v"), [
    (6.0, 0.3, False),
    (1.6, 0.3, True),   # dissolved oxygen below the Class V limit of 2 mg/L
    (6.0, 2.4, True),   # ammonia nitrogen above the Class V limit of 2 mg/L
    (2.0, 2.0, False),  # exactly at both limits still meets Class V
])
async def test_water_worse_than_class_v(oxygen: float, ammonia: float, worse_than_v: bool) -> None:
    async with Harness(SHIPPED, [device("WQ-1", "water_quality_probe")]) as h:
        for _ in range(12):
            await h.feed("WQ-1", "dissolved_oxygen_mg_l", oxygen)
            await h.feed("WQ-1", "ammonia_nitrogen_mg_l", ammonia)
            await h.feed("WQ-1", "ph", 7.2)
            await h.advance(60)
        raised = {t.rule for t in h.sink.transitions if t.event.value == "raised"}
        assert ("water-worse-than-class-v" in raised) is worse_than_v
        if ammonia > 2:
            assert "ammonia-nitrogen-class" in raised
        if oxygen < 2:
            assert "dissolved-oxygen-class" in raised


async def test_condition_waits_for_every_metric_it_names() -> None:
    async with Harness(SHIPPED, [device("LP-1", "lamp_controller")], start=MIDNIGHT_SHANGHAI) as h:
        for _ in range(10):
            await h.feed("LP-1", "power_w", 0.0)  # relay_on never reported
            await h.advance(60)
        assert h.events() == []


async def test_a_condition_over_its_budget_disables_the_rule_with_a_fault_alert() -> None:
    # Each ** is allowed (exponent 8), but a large reading makes the result exceed the evaluation budget:
    # the rule is taken out and the operator sees an alert; the other rules and the engine go on.
    rules = """
rules:
  - {name: runaway, kind: condition, when: "((level ** 8) ** 8) ** 8 > 1", severity: red}
  - {name: high, kind: threshold, metric: level, levels: {red: 100}}
"""
    async with Harness(rules, [device("CG-1"), device("CG-2")]) as h:
        await h.feed("CG-1", "level", 1e15)
        assert [t.rule for t in h.sink.transitions if t.device_id == "CG-1"] == ["high"]  # same reading, next rule
        await h.feed("CG-2", "level", 500)
        await h.engine.flush()
        faults = [t for t in h.sink.transitions if t.rule == "runaway"]
        assert [(t.event.value, t.device_id, t.severity) for t in faults] == [("raised", "rule:runaway", "red")]
        assert "rule disabled" in faults[0].message and "budget" in faults[0].message
        assert h.engine.disabled.reasons() == {"runaway": faults[0].message}
        assert h.engine.rules_for("CG-2", "level") == ["high"]
        assert h.engine.stats.rules_disabled == 1
        assert [t.rule for t in h.sink.transitions if t.device_id == "CG-2"] == ["high"]

        h.engine.load_rules(parse_ruleset(rules))  # the same file again: the rule stays out
        assert h.engine.rules_for("CG-2", "level") == ["high"]
        h.engine.load_rules(parse_ruleset(rules.replace("** 8) ** 8) ** 8", "** 2)) ")))
        await h.engine.flush()
        assert h.engine.disabled.reasons() == {}
        assert [(t.event.value, t.device_id) for t in h.sink.transitions if t.rule == "runaway"][-1] == \
            ("cleared", "rule:runaway")
        assert h.engine.rules_for("CG-2", "level") == ["runaway", "high"]
