"""The rules service: reloading rule files (on change, on SIGHUP) without losing state; restarts."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from rules.runner import RulesService, rules_fingerprint
from streetwatch.clock import FakeClock
from streetwatch.config import DatabaseUrl, Settings
from streetwatch.database import Database, open_database
from streetwatch.mqtt import MqttTransport
from streetwatch.readings import Reading
from tests.rules.support import START, device

pytestmark = pytest.mark.services

RULES = """
rules:
  - {name: slow, kind: threshold, metric: water_level_mm, levels: {red: 800}, for: 60s}
  - {name: other, kind: threshold, metric: water_level_mm, levels: {yellow: 300}}
"""


def service_for(db: Database, rules_dir: Path, mqtt_url: str, clock: FakeClock, *,
                handle_sighup: bool = False) -> RulesService:
    # The ticker is left idle (an hour): the tests call tick() with the fake clock themselves.
    return RulesService(db, Settings(mqtt_url=mqtt_url), clock=clock, mqtt=MqttTransport.from_url(mqtt_url),
                        devices={"CG-1": device("CG-1")},
                        rules_dir=rules_dir, tick_interval_s=3600, handle_sighup=handle_sighup)


async def test_reload_keeps_state_refuses_mistakes_and_follows_sighup(tmp_path: Path, mqtt_url: str) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "culverts.yaml").write_text(RULES)
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db:
        async with service_for(db, rules_dir, mqtt_url, clock, handle_sighup=True) as service:
            await service.on_reading(Reading("CG-1", "water_level_mm", clock.now(), 900))
            clock.advance(seconds=30)
            before = rules_fingerprint(rules_dir)
            (rules_dir / "culverts.yaml").write_text(RULES.replace("yellow: 300", "yellow: 350"))
            assert rules_fingerprint(rules_dir) != before
            assert service.reload()
            clock.advance(seconds=30)
            await service.engine.tick(clock.now())
            assert service.engine.severity("slow", "CG-1") == "red"  # its 30 s before the reload counted

            (rules_dir / "broken.yaml").write_text("rules:\n  - {name: x, kind: threshold, metric: m, levels: "
                                                   "{red: high}}\n")
            assert not service.reload()  # the rules in force stay
            assert service.engine.rules_for("CG-1", "water_level_mm") == ["slow", "other"]

            (rules_dir / "broken.yaml").write_text("rules:\n  - {name: x, kind: threshold, metric: m, levels: "
                                                   "{red: 5}}\n")
            service.reloaded.clear()
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.wait_for(service.reloaded.wait(), 5)
            assert service.engine.rules_for("CG-1", "m") == ["x"]
            assert service.store is not None
            await service.engine.flush()
            stored = await service.store.active_alerts()
        assert [(a.rule, a.severity) for a in stored] == [("other", "yellow"), ("slow", "red")]


async def test_a_restarted_service_takes_up_its_open_alerts(tmp_path: Path, mqtt_url: str) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "culverts.toml").write_text(
        '[[rules]]\nname = "level"\nkind = "threshold"\nmetric = "water_level_mm"\n'
        "levels = { yellow = 300, red = 800 }\n")
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db:
        async with service_for(db, rules_dir, mqtt_url, clock) as first:
            await first.on_reading(Reading("CG-1", "water_level_mm", clock.now(), 900))
        async with service_for(db, rules_dir, mqtt_url, clock) as second:
            assert second.engine.severity("level", "CG-1") == "red"
            await second.on_reading(Reading("CG-1", "water_level_mm", clock.now(), 910))
            await second.engine.flush()
            assert second.engine.stats.transitions == 0
            assert second.store is not None
            (alert,) = await second.store.active_alerts()
        assert alert.severity == "red"


HOSTILE = {
    "not.yaml": "rules:\n  - {name: n, kind: condition, severity: red, when: \"" + "not " * 3000 + "x\"}\n",
    "sum.yaml": "rules:\n  - {name: s, kind: condition, severity: red, when: \"" + "+".join(["x"] * 20000)
                + " > 1\"}\n",
    "power.yaml": "rules:\n  - {name: p, kind: condition, severity: red, when: \"water_level_mm > 10**10**10\"}\n",
    "deep.yaml": "rules: " + "[" * 3000 + "]" * 3000 + "\n",
    "indented.yaml": "rules:\n" + "".join("  " * i + "-\n" for i in range(1, 300)),
    "deep.toml": "x = " + "[" * 3000 + "]" * 3000 + "\n",
    "binary.yaml": "\udcff",
}


async def test_a_bad_rule_file_is_left_out_at_start_and_reported(tmp_path: Path, mqtt_url: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "culverts.yaml").write_text(RULES)
    (rules_dir / "bad.yaml").write_text("rules:\n  - {name: x, kind: wrong}\n")
    (rules_dir / "not.yaml").write_text(HOSTILE["not.yaml"])
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db, \
            service_for(db, rules_dir, mqtt_url, FakeClock(START)) as service:
        assert service.engine.rules_for("CG-1", "water_level_mm") == ["slow", "other"]
        problems = service.problems()
    assert problems == [
        f"rule file {rules_dir / 'bad.yaml'} not loaded: 1 problem(s), first: "
        f"{rules_dir / 'bad.yaml'}:2: rules[0]: unknown kind 'wrong'; one of threshold, rate_of_change, "
        "projected, quality, rain_rise, absence, condition, group",
        f"rule file {rules_dir / 'not.yaml'} not loaded: 1 problem(s), first: {rules_dir / 'not.yaml'}:2: "
        "rules[0].when: longer than 500 characters (12001): 'not not not not not not not not not not not not not not "
        "n...'",
    ]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert f"rules: {rules_dir / 'bad.yaml'} left out: it has 1 problem(s); the other rule files run" in errors


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_a_hostile_file_on_hot_reload_keeps_the_rules_in_force(
        tmp_path: Path, mqtt_url: str, caplog: pytest.LogCaptureFixture, name: str) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "culverts.yaml").write_text(RULES)
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db:
        # The service's own ticker finds the change and reloads, as in the gateway.
        service = RulesService(db, Settings(mqtt_url=mqtt_url), clock=clock, mqtt=None,
                               devices={"CG-1": device("CG-1")},
                               rules_dir=rules_dir, tick_interval_s=0.05, reload_check_s=0.05)
        async with service:
            path = rules_dir / name
            path.write_text(HOSTILE[name], errors="surrogateescape")
            for _ in range(200):
                if any(name in r.getMessage() and r.levelname == "ERROR" for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
            errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
            assert any(m.startswith(f"rules not reloaded: {path}") for m in errors), errors
            assert service.engine.rules_for("CG-1", "water_level_mm") == ["slow", "other"]
            await service.on_reading(Reading("CG-1", "water_level_mm", clock.now(), 400))  # still evaluating
            await service.engine.flush()
            assert service.engine.severity("other", "CG-1") == "yellow"
            path.unlink()  # the bad file gone: the next reload works again
            service.reloaded.clear()
            await asyncio.wait_for(service.reloaded.wait(), 5)


async def test_a_rule_over_its_budget_is_stored_as_an_alert_and_listed_as_a_problem(tmp_path: Path,
                                                                                       mqtt_url: str) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "culverts.yaml").write_text(
        RULES + "  - {name: runaway, kind: condition, severity: red,\n"
                "     when: \"((water_level_mm ** 8) ** 8) ** 8 > 1\"}\n")
    clock = FakeClock(START)
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db, \
            service_for(db, rules_dir, mqtt_url, clock) as service:
        await service.on_reading(Reading("CG-1", "water_level_mm", clock.now(), 4e9))
        await service.engine.flush()
        assert service.store is not None
        stored = {(a.rule, a.device_id, a.severity) for a in await service.store.active_alerts()}
        problems = service.problems()
    assert ("runaway", "rule:runaway", "red") in stored
    assert ("other", "CG-1", "yellow") in stored  # the other rules went on
    (problem,) = problems
    assert problem.startswith("rule runaway: rule disabled: ") and "evaluation budget" in problem
