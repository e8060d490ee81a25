"""The ``rain_rise`` rule: rain in a district and a gauge there rising, on simulated storms.

The readings are what the gateway would take in: the simulators' rain gauges and culvert gauges
write MQTT payloads, the shipped profiles parse them (the rain gauge's profile turns mm per
interval into mm/h), and the engine judges them with a rule file.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from device_drivers.mqtt import parse_telemetry
from device_registry.device import Device
from device_registry.profile import shipped_profiles
from rules.errors import RuleFileError
from rules.loader import parse_ruleset
from rules.rain_rule import RainRiseRuntime
from rules.spec import RainRiseRule
from simulators.design_storm import chicago_storm
from simulators.gauge import GaugeModel, GaugeSpec
from simulators.rain import CulvertLevel, CulvertResponse, Rainfall
from simulators.rain_gauge import RainGaugeModel, RainGaugeSpec
from streetwatch.readings import Reading
from tests.rules.support import START, Harness, device

PROFILES = shipped_profiles()
RULES = """
rules:
  - name: storm-and-rise
    kind: rain_rise
    applies_to: {kinds: [culvert_gauge]}
    metric: water_level_mm
    rise: 50
    window: 10m
    intensity: 20
    intensity_window: 10m
    district_by: area
    severity: orange
"""
STORM_AT_S = 1800.0


def rain_gauge(device_id: str, area: str) -> Device:
    return device(device_id, "rain_gauge", profile="sw-rain-gauge-mqtt").model_copy(update={"area": area})


def level_gauge(device_id: str, area: str) -> Device:
    return device(device_id).model_copy(update={"area": area})


def payload(values: dict[str, float], t_s: float) -> bytes:
    return json.dumps({"ts": (START + timedelta(seconds=t_s)).isoformat(), **values}).encode()


def parsed(device_id: str, profile: str, values: dict[str, float], t_s: float) -> list[Reading]:
    result = parse_telemetry(device_id, payload(values, t_s), PROFILES[profile], START + timedelta(seconds=t_s))
    assert result.rejections == []
    return result.readings


class World:
    """Rain gauges and culvert gauges of a scenario, read every minute as MQTT messages."""

    def __init__(self, rain: dict[str, tuple[Rainfall, str]], culverts: dict[str, tuple[CulvertLevel, str]]) -> None:
        self.rain = {rid: RainGaugeModel(rf, RainGaugeSpec(), device_id=rid, seed=7) for rid, (rf, _) in rain.items()}
        self.culverts = {cid: GaugeModel(level, GaugeSpec(), seed=7, device_id=cid)
                         for cid, (level, _) in culverts.items()}
        self.devices = [rain_gauge(rid, area) for rid, (_, area) in rain.items()]
        self.devices += [level_gauge(cid, area) for cid, (_, area) in culverts.items()]

    def readings(self, t_s: float) -> list[Reading]:
        out = []
        for rid, model in self.rain.items():
            out += parsed(rid, "sw-rain-gauge-mqtt", model.telemetry(t_s), t_s)
        for cid, gauge in self.culverts.items():
            sample = gauge.sample(t_s)
            if sample is not None:
                out += parsed(cid, "sw-culvert-gauge-mqtt", {"water_level_mm": sample.water_level_mm,
                                                             "battery_v": sample.battery_v}, t_s)
        return out


async def run(world: World, minutes: int, rules: str = RULES) -> list[tuple[float, str, str, str]]:
    """Feed ``minutes`` of readings; (minute, event, device, severity) of every transition, and the messages."""
    async with Harness(rules, world.devices) as h:
        seen: list[tuple[float, str, str, str]] = []
        for minute in range(1, minutes + 1):
            await h.advance(60)
            before = len(h.sink.transitions)
            await h.engine.on_readings(world.readings(minute * 60.0))
            await h.engine.flush()
            seen += [(minute, t.event.value, t.device_id, t.message) for t in h.sink.transitions[before:]]
        return seen


async def test_a_storm_over_a_district_raises_its_rising_gauge_and_clears_after() -> None:
    storm = chicago_storm(start_s=STORM_AT_S, duration_s=7200, return_period_years=5)
    dry = Rainfall()
    world = World(rain={"RG-1": (storm, "baiyun"), "RG-2": (dry, "tianhe")},
                  culverts={"CG-1": (CulvertLevel(storm, CulvertResponse()), "baiyun"),
                            # rising as fast, but its district's rain gauge stays dry (a tide, a pump stopped)
                            "CG-2": (CulvertLevel(storm, CulvertResponse()), "tianhe")})
    seen = await run(world, 360)
    raised = [s for s in seen if s[1] == "raised"]
    assert [s[2] for s in raised] == ["CG-1"]
    minute, _, _, message = raised[0]
    assert STORM_AT_S / 60 < minute < STORM_AT_S / 60 + 40  # within the storm's first 40 minutes
    assert "at RG-1 in area baiyun (limit 20 mm/h) and water_level_mm rose" in message
    assert any(s[1] == "cleared" and s[2] == "CG-1" for s in seen)
    assert not any(s[2] == "CG-2" for s in seen)


async def test_rain_without_a_rise_raises_nothing() -> None:
    storm = chicago_storm(start_s=STORM_AT_S, duration_s=3600, return_period_years=2)
    # A culvert whose drains keep up: the level hardly moves in the same storm.
    calm = CulvertResponse(gain_mm_per_mm_h=0.1)
    world = World(rain={"RG-1": (storm, "baiyun")}, culverts={"CG-1": (CulvertLevel(storm, calm), "baiyun")})
    assert await run(world, 150) == []


async def test_light_rain_with_a_rise_raises_nothing() -> None:
    drizzle = Rainfall.parse("30m+2h@6mm/h")
    world = World(rain={"RG-1": (drizzle, "baiyun")},
                  culverts={"CG-1": (CulvertLevel(drizzle, CulvertResponse(gain_mm_per_mm_h=40)), "baiyun")})
    assert await run(world, 150) == []


async def test_a_modbus_rain_gauge_counts_like_an_mqtt_one() -> None:
    # The Modbus profile's tips × bucket × 3600 / interval gives the same mm/h the MQTT one does.
    model = RainGaugeModel(Rainfall.parse("0s+1h@30mm/h"), RainGaugeSpec(catch=1.0), device_id="RG-1", seed=1)
    registers = model.registers(1800)
    profile = PROFILES["sw-rain-gauge-modbus"]
    derived = {d.name: d.expression for d in profile.derived}
    assert derived["rain_intensity_mm_h"] == "tips * bucket_mm * 3600 / interval_s"
    mqtt = parsed("RG-1", "sw-rain-gauge-mqtt", model.telemetry(1800), 1800)
    intensity = next(r.value for r in mqtt if r.metric == "rain_intensity_mm_h")
    assert intensity == pytest.approx(registers["tips"] * registers["bucket_mm"] * 3600 / registers["interval_s"])
    assert 24 <= intensity <= 36  # 30 mm/h is 0.5 mm a minute: two or three 0.2 mm tips


def test_the_district_is_the_wettest_rain_gauge_heard_lately() -> None:
    spec = parse_ruleset(RULES).rules[0]
    assert isinstance(spec, RainRiseRule)
    rt = RainRiseRuntime(spec, parse_ruleset(RULES).scale)
    wet, damp = rain_gauge("RG-1", "baiyun"), rain_gauge("RG-2", "baiyun")
    for minute, (a, b) in enumerate([(30.0, 5.0), (40.0, 10.0), (50.0, 12.0)]):
        at = START + timedelta(minutes=minute)
        rt.evaluate(wet, Reading("RG-1", "rain_intensity_mm_h", at, a), 0)
        rt.evaluate(damp, Reading("RG-2", "rain_intensity_mm_h", at, b), 0)
    now = (START + timedelta(minutes=2)).timestamp()
    rain = rt.district_rain("baiyun", now)
    assert (rain.gauge, rain.intensity_mm_h) == ("RG-1", pytest.approx(40.0))
    assert rt.district_rain("baiyun", now + 601).intensity_mm_h is None  # none heard within 10 minutes
    assert rt.district_rain("tianhe", now).intensity_mm_h is None
    # A rain gauge moved to another district takes its rain with it.
    rt.evaluate(wet.model_copy(update={"area": "tianhe"}),
                Reading("RG-1", "rain_intensity_mm_h", START + timedelta(minutes=3), 60.0), 0)
    assert rt.district_rain("baiyun", now + 60).gauge == "RG-2"
    assert rt.district_rain("tianhe", now + 60).gauge == "RG-1"


def test_rule_file_mistakes_name_the_file_line_and_field() -> None:
    bad = """
rules:
  - name: storm-and-rise
    kind: rain_rise
    applies_to: {kinds: [culvert_gauge]}
    rise: 50
    intensity: -3
    district_by: street
    severity: orange
  - name: same-metric
    kind: rain_rise
    rise: 50
    intensity: 20
    rain_metric: water_level_mm
    rain_from: {kinds: [culvert_gauge]}
    applies_to: {kinds: [culvert_gauge]}
    severity: amber
"""
    with pytest.raises(RuleFileError) as caught:
        parse_ruleset(bad)
    assert caught.value.problems == [
        "<rules>:7: rules[0].intensity: Input should be greater than 0",
        "<rules>:14: rules[1].rain_metric: 'water_level_mm' is the level metric too; name the rain's",
        "<rules>:15: rules[1].rain_from: selects the same devices as applies_to: rain gauges and level gauges "
        "are told apart by these two",
        "<rules>:17: rules[1].severity: unknown severity 'amber'; the scale is blue < yellow < orange < red",
    ]
    with pytest.raises(RuleFileError) as caught:
        parse_ruleset(bad.split("  - name: same-metric", maxsplit=1)[0].replace("intensity: -3", "intensity: 3"))
    assert caught.value.problems == ["<rules>:8: rules[0].district_by: 'street': use area, site, group or tag:<key>"]
