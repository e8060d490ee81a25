"""The engine as a whole: routing, groups, actions, reloading rules, restoring alerts, registry changes."""

from __future__ import annotations

from datetime import timedelta

from device_registry.device import DeviceStatus
from rules.actions import CommandTarget
from rules.alerts import Alert, AlertState
from rules.loader import SHIPPED_RULES_DIR, load_ruleset, parse_ruleset
from streetwatch.readings import Reading
from tests.rules.support import START, Harness, device

LEVEL = """
rules:
  - name: level
    kind: threshold
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    levels: {yellow: 300, orange: 500, red: 800}
    actions:
      - {at: red, action: set_dim, target: group, groups_matching: "hazard-*", params: {level_pct: 100}}
      - {at: cleared, action: set_dim, target: group, groups_matching: "hazard-*", params: {level_pct: 50}}
  - name: district
    kind: group
    source: level
    group_by: site
    min_severity: yellow
    at_least: 3
    severity: red
    actions:
      - {at: red, action: flash, target: site}
"""


async def test_a_reading_meets_only_the_rules_that_concern_it() -> None:
    shipped = load_ruleset(SHIPPED_RULES_DIR)
    devices = [device("CG-1"), device("LP-1", "lamp_controller"), device("WQ-1", "water_quality_probe")]
    async with Harness(shipped, devices) as h:
        assert h.engine.rules_for("CG-1", "water_level_mm") == ["culvert-water-level", "culvert-rapid-rise"]
        assert h.engine.rules_for("CG-1", "battery_v") == []
        assert h.engine.rules_for("LP-1", "relay_on") == ["lamp-failure", "lamp-day-burning", "lamp-cycling"]
        assert h.engine.rules_for("LP-1", "water_level_mm") == []
        assert h.engine.rules_for("WQ-1", "ph") == ["ph-out-of-range"]


async def test_unknown_devices_and_stale_readings_are_counted_not_evaluated() -> None:
    async with Harness(LEVEL, [device("CG-1")]) as h:
        await h.feed("NOBODY", "water_level_mm", 900)
        await h.engine.on_reading(Reading("CG-1", "water_level_mm", START - timedelta(hours=1), 900))
        await h.engine.flush()
        assert h.events() == []
        assert (h.engine.stats.unknown_devices, h.engine.stats.stale_readings) == (1, 1)


async def test_red_flood_at_a_hazard_point_lights_its_lamp_group() -> None:
    gauge = device("CG-7", groups=("district-3-gauges", "hazard-07"))
    async with Harness(LEVEL, [gauge]) as h:
        await h.feed("CG-7", "water_level_mm", 600)
        assert h.commands.calls == []  # orange: no action
        await h.feed("CG-7", "water_level_mm", 850)
        (call,) = h.commands.calls
        assert call["target"] == CommandTarget("group", "hazard-07")
        assert (call["action"], call["params"], call["requester"]) == ("set_dim", {"level_pct": 100}, "rule:level")
        assert "red alert escalated" in call["reason"]
        await h.feed("CG-7", "water_level_mm", 700)  # orange again: no new command
        await h.feed("CG-7", "water_level_mm", 900)  # red again: set it again
        await h.feed("CG-7", "water_level_mm", 10)
        assert [(c["action"], c["target"].value, c["params"]) for c in h.commands.calls] == [
            ("set_dim", "hazard-07", {"level_pct": 100}), ("set_dim", "hazard-07", {"level_pct": 100}),
            ("set_dim", "hazard-07", {"level_pct": 50})]


async def test_three_gauges_of_one_district_at_yellow_raise_the_group_alert() -> None:
    gauges = [device(f"CG-{i}", site="district-3") for i in range(4)] + [device("CG-X", site="district-9")]
    async with Harness(LEVEL, gauges) as h:
        await h.feed("CG-0", "water_level_mm", 350)
        await h.feed("CG-1", "water_level_mm", 900)
        await h.feed("CG-X", "water_level_mm", 400)  # another district does not count
        assert [e for e in h.events() if e[1].startswith("site:")] == []
        await h.feed("CG-2", "water_level_mm", 310)
        group = [t for t in h.sink.transitions if t.rule == "district"]
        assert [(t.event.value, t.device_id, t.severity) for t in group] == [("raised", "site:district-3", "red")]
        assert (group[0].site, group[0].value, group[0].threshold) == ("district-3", 3.0, 3.0)
        assert "CG-0, CG-1, CG-2" in group[0].message
        assert CommandTarget("site", "district-3") in [c["target"] for c in h.commands.calls]
        await h.feed("CG-3", "water_level_mm", 320)  # a fourth: still the one alert
        await h.feed("CG-0", "water_level_mm", 100)
        await h.feed("CG-1", "water_level_mm", 100)
        group = [(t.event.value, t.device_id) for t in h.sink.transitions if t.rule == "district"]
        assert group == [("raised", "site:district-3"), ("cleared", "site:district-3")]


async def test_reloading_keeps_the_state_of_unchanged_rules() -> None:
    rules = """
rules:
  - {name: slow, kind: threshold, metric: water_level_mm, levels: {red: 800}, for: 60s}
  - {name: other, kind: threshold, metric: water_level_mm, levels: {yellow: 300}, for: 60s}
"""
    async with Harness(rules, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", 900)
        await h.advance(30)
        # 'other' changes, 'slow' does not: its 30 s of red count on
        h.engine.load_rules(parse_ruleset(rules.replace("yellow: 300}, for: 60s", "yellow: 350}, for: 60s")))
        await h.advance(30)
        assert h.events() == [("raised", "CG-1", "red")]
        assert h.sink.transitions[0].rule == "slow"


async def test_a_changed_rule_keeps_its_alert_and_a_removed_rule_clears_it() -> None:
    rules = """
rules:
  - {name: a, kind: threshold, metric: water_level_mm, levels: {yellow: 300, red: 800}}
  - {name: b, kind: threshold, metric: water_level_mm, levels: {orange: 500}}
"""
    async with Harness(rules, [device("CG-1")]) as h:
        await h.feed("CG-1", "water_level_mm", 900)
        assert sorted(h.events()) == [("raised", "CG-1", "orange"), ("raised", "CG-1", "red")]
        h.engine.load_rules(parse_ruleset("""
rules:
  - {name: a, kind: threshold, metric: water_level_mm, levels: {yellow: 300, red: 850}}
"""))
        await h.engine.flush()
        assert h.events()[-1] == ("cleared", "CG-1", "orange")
        assert h.sink.transitions[-1].rule == "b" and h.sink.transitions[-1].message == "rule removed"
        assert h.engine.severity("a", "CG-1") == "red"  # carried over: no second raise
        await h.feed("CG-1", "water_level_mm", 900)
        assert len(h.events()) == 3


def stored(rule: str, device_id: str, severity: str, state: AlertState = AlertState.raised) -> Alert:
    return Alert(id=1, rule=rule, device_id=device_id, device_kind="culvert_gauge", site="district-1",
                 severity=severity, peak_severity=severity, state=state, raised_at=START, updated_at=START)


async def test_restored_alerts_are_not_raised_again_and_clear_when_the_water_goes() -> None:
    async with Harness(LEVEL, [device("CG-1")]) as h:
        h.engine.restore([stored("level", "CG-1", "red")])
        await h.feed("CG-1", "water_level_mm", 850)
        assert h.events() == []
        await h.feed("CG-1", "water_level_mm", 600)
        assert h.events() == [("deescalated", "CG-1", "orange")]


async def test_restoring_an_alert_of_a_rule_that_is_gone_clears_it() -> None:
    async with Harness(LEVEL, [device("CG-1")]) as h:
        h.engine.restore([stored("vanished", "CG-1", "red"), stored("level", "GONE", "red")])
        await h.engine.flush()
        assert [(t.event.value, t.rule, t.message) for t in h.sink.transitions] == [
            ("cleared", "vanished", "rule removed"), ("cleared", "level", "device removed from the registry")]


async def test_registry_changes_apply_at_once() -> None:
    gauge = device("CG-1")
    async with Harness(LEVEL, [gauge]) as h:
        await h.feed("CG-1", "water_level_mm", 400)
        assert h.events() == [("raised", "CG-1", "yellow")]
        # this culvert's own red level is 350: the same water is now red
        h.engine.update_devices({"CG-1": gauge.model_copy(update={"thresholds": {"water_level_mm": {"red": 350}}})})
        await h.feed("CG-1", "water_level_mm", 400)
        assert h.events()[-1] == ("escalated", "CG-1", "red")
        # in maintenance it is not evaluated; removed, its alert clears
        h.engine.update_devices({"CG-1": gauge.model_copy(update={"status": DeviceStatus.maintenance})})
        await h.feed("CG-1", "water_level_mm", 10)
        assert len(h.events()) == 2
        h.engine.update_devices({})
        await h.engine.flush()
        assert h.events()[-1] == ("cleared", "CG-1", "red")
        assert h.sink.transitions[-1].message == "device removed from the registry"


async def test_on_readings_batch_and_transition_order() -> None:
    async with Harness(LEVEL, [device("CG-1"), device("CG-2")]) as h:
        now = h.clock.now()
        await h.engine.on_readings([Reading("CG-1", "water_level_mm", now, 350), Reading("CG-2", "water_level_mm",
                                    now, 900), Reading("CG-1", "water_level_mm", now, 550)])
        await h.engine.flush()
        assert h.events() == [("raised", "CG-1", "yellow"), ("raised", "CG-2", "red"),
                              ("escalated", "CG-1", "orange")]
        seqs = [t.seq for t in h.sink.transitions]
        assert seqs == sorted(seqs)
        assert all(t.arrived_monotonic == h.clock.monotonic() for t in h.sink.transitions)


async def test_alerts_a_rule_no_longer_watches_are_cleared() -> None:
    rules = """
rules:
  - {name: d3, kind: threshold, metric: water_level_mm, levels: {red: 800}, applies_to: {sites: [district-3]}}
"""
    gauge = device("CG-1", site="district-3")
    async with Harness(rules, [gauge, device("CG-2", site="district-3")]) as h:
        await h.feed("CG-1", "water_level_mm", 900)
        await h.feed("CG-2", "water_level_mm", 900)
        h.engine.update_devices({"CG-1": gauge.model_copy(update={"site": "district-9"}),
                                 "CG-2": device("CG-2", site="district-3")})
        await h.engine.flush()
        assert h.events()[-1] == ("cleared", "CG-1", "red")
        assert h.sink.transitions[-1].message == "the rule no longer applies to this device"
        # narrowing the rule itself lets go of CG-2 the same way
        h.engine.load_rules(parse_ruleset(rules.replace("district-3", "district-4")))
        await h.engine.flush()
        assert h.events()[-1] == ("cleared", "CG-2", "red")
        assert h.sink.transitions[-1].message == "rule changed: it no longer applies here"
        # and an alert restored for a device the rule does not watch is cleared
        h.engine.restore([stored("d3", "CG-1", "red")])
        await h.engine.flush()
        assert (h.events()[-1], h.sink.transitions[-1].message) == (
            ("cleared", "CG-1", "red"), "the rule no longer applies to this device")


async def test_a_batch_is_judged_a_message_at_a_time() -> None:
    """Readings of one device at one time (a message) are looked up once; a batch mixes such runs."""
    async with Harness(LEVEL, [device("CG-1"), device("CG-2")]) as h:
        now, old = h.clock.now(), START - timedelta(hours=1)
        await h.engine.on_readings([
            Reading("CG-1", "water_level_mm", now, 900), Reading("CG-1", "battery_v", now, 3.6),
            Reading("NOBODY", "water_level_mm", now, 900), Reading("NOBODY", "battery_v", now, 3.6),
            Reading("CG-2", "water_level_mm", old, 900), Reading("CG-2", "battery_v", old, 3.6),
            Reading("CG-2", "water_level_mm", now, 350)])
        await h.engine.flush()
        assert h.engine.stats.readings == 7
        assert (h.engine.stats.unknown_devices, h.engine.stats.stale_readings) == (2, 2)
        assert h.engine.severity("level", "CG-1") == "red" and h.engine.severity("level", "CG-2") == "yellow"
