"""The rules service: reloading rule files (on change, on SIGHUP) without losing state; restarts."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from rules.errors import RuleFileError
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


async def test_rules_with_mistakes_stop_the_start(tmp_path: Path, mqtt_url: str) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - {name: x, kind: wrong}\n")
    async with open_database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'sw.db'}")) as db:
        with pytest.raises(RuleFileError, match=r"bad.yaml:2: rules\[0\]: unknown kind 'wrong'"):
            async with service_for(db, tmp_path, mqtt_url, FakeClock(START)):
                pass
